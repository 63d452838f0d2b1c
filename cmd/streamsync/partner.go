package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/profile"
)

func partnerFlags(fs *pflag.FlagSet) {
	fs.String("event", "", "preview: a file of events (a JSON object, an array of them, or one a line)")
	fs.String("partner-id", "", "preview: the partner's id of the record, for entities whose partner assigns ids (default: shown as {partner_id})")
	fs.String("entity", "", "check: the entity whose list is read (default: the first, in alphabetical order, of the entities the profile names and can read)")
	fs.String("parent-partner-id", "", "preview: the partner's id of the parent (default: shown as {parent.partner_id})")
	fs.Bool("drop-state", false, "retire: also delete every key of the partner (ledger, id map, dead letters, …)")
	fs.Bool("force", false, "retire: even when a consumer of the partner's group read within the last 2 minutes")
}

// maxPreviewBytes bounds the events file of `partner preview`.
const maxPreviewBytes = 64 << 20

// runPartner is `streamsync partner preview --event FILE` (the exact
// requests the events would produce, secrets masked, nothing sent) and
// `streamsync partner check` (one harmless read of the partner), both by
// sink.profile (docs/partners.md, "Trying a profile").
func runPartner(ctx context.Context, e *env) error {
	if e.fs.Arg(0) == "retire" {
		return retirePartner(ctx, e)
	}
	if e.fs.NArg() != 1 {
		return errors.New("partner: want preview, check or retire, as in `streamsync partner preview --event events.json`")
	}
	p, err := loadProfile(e.cfg.Sink)
	if err != nil {
		return err
	}
	switch e.fs.Arg(0) {
	case "preview":
		file, _ := e.fs.GetString("event")
		if file == "" {
			return errors.New("partner preview: --event FILE is required (a JSON object, an array of them, or one a line)")
		}
		return previewFile(e, p, file)
	case "check":
		return checkPartner(ctx, e, p)
	}
	return fmt.Errorf("partner: want preview, check or retire, not %q", e.fs.Arg(0))
}

// loadProfile is the profile of sink.profile, its base URL sink.base_url
// when that is set; for the built-in partner API it is the built-in
// profile (docs/partner-api.md written as a profile).
func loadProfile(c config.SinkConfig) (*profile.Profile, error) {
	opt := profile.Options{BaseURL: c.BaseURL}
	if !c.UsesProfile() {
		return profile.BuiltIn(opt)
	}
	p, err := profile.LoadWith(c.Profile, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Key("profile"), err)
	}
	// The profile's own URLs are held to sink.allow_http as sink.base_url is
	// (docs/security.md, "Transport").
	urls := []string{p.BaseURL}
	if tokenURL, _, _, _, ok := p.OAuth2(); ok {
		urls = append(urls, tokenURL)
	}
	for _, raw := range urls {
		if u, err := url.Parse(raw); err == nil && u.Scheme == "http" && !c.AllowHTTP && !config.IsLoopback(u.Host) {
			return nil, fmt.Errorf("%s: profile %s: %s is plain http:// on a host that is not loopback (%s); use https:// or set %s: true",
				c.Key("profile"), p.Name, apiclient.RedactURL(raw), u.Host, c.Key("allow_http"))
		}
	}
	return p, nil
}

// readEvents reads a preview's events: one JSON object, an array of them,
// or one object a line.
func readEvents(file string) ([]json.RawMessage, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("partner preview: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPreviewBytes+1))
	if err != nil {
		return nil, fmt.Errorf("partner preview: %w", err)
	}
	if len(b) > maxPreviewBytes {
		return nil, fmt.Errorf("partner preview: %s is larger than %d bytes", file, maxPreviewBytes)
	}
	if objs, err := event.SplitJSON(b); err == nil {
		return objs, nil
	}
	var out []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), maxPreviewBytes)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return nil, fmt.Errorf("partner preview: %s line %d is not JSON", file, n)
		}
		out = append(out, append(json.RawMessage(nil), line...))
	}
	return out, sc.Err()
}

// previewRequest is one request as preview shows it.
type previewRequest struct {
	Event   string            `json:"event"`
	Op      string            `json:"op"`
	When    string            `json:"when,omitempty"`
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
	Error   string            `json:"error,omitempty"`
	Warning string            `json:"warning,omitempty"`
}

func previewFile(e *env, p *profile.Profile, file string) error {
	objs, err := readEvents(file)
	if err != nil {
		return err
	}
	self, _ := e.fs.GetString("partner-id")
	parent, _ := e.fs.GetString("parent-partner-id")
	if self == "" {
		self = "{partner_id}"
	}
	if parent == "" {
		parent = "{parent.partner_id}"
	}
	var out []previewRequest
	failed := 0
	batches := map[string][]event.Event{} // bulk entity → its upserts, for one batch each
	var bulkOrder []string
	for i, obj := range objs {
		ev, err := event.FromJSON(obj, event.Limits{MaxBytes: e.cfg.Event.MaxBytes})
		if err != nil {
			failed++
			out = append(out, previewRequest{Event: fmt.Sprintf("#%d %s", i+1, ev.ID), Error: err.Error()})
			continue
		}
		if _, _, bulk := p.Bulk(ev.Entity); bulk && ev.Op != event.OpDelete {
			if batches[ev.Entity] == nil {
				bulkOrder = append(bulkOrder, ev.Entity)
			}
			batches[ev.Entity] = append(batches[ev.Entity], ev)
			continue
		}
		for _, r := range previewEvent(p, ev, profile.IDs{Self: self, Parent: parent}) {
			if r.Error != "" {
				failed++
			}
			out = append(out, r)
		}
	}
	for _, entity := range bulkOrder {
		r := previewBatch(p, entity, batches[entity], profile.IDs{Parent: parent})
		if r.Error != "" {
			failed++
		}
		out = append(out, r)
	}
	if e.format == "json" {
		if err := json.NewEncoder(e.out).Encode(out); err != nil {
			return err
		}
	} else {
		printPreview(e.out, out)
	}
	if failed > 0 {
		return fmt.Errorf("partner preview: %d of the requests could not be built (see above)", failed)
	}
	return nil
}

// previewEvent is the requests one event may produce: for an entity whose
// partner assigns ids, the create (no id yet), the find before a retried
// create, and the update or delete by the partner's id.
func previewEvent(p *profile.Profile, ev event.Event, ids profile.IDs) []previewRequest {
	type step struct {
		op   profile.Op
		when string
	}
	var steps []step
	switch {
	case !p.AssignsIDs(ev.Entity) && ev.Op == event.OpDelete:
		steps = []step{{profile.OpDelete, ""}}
	case !p.AssignsIDs(ev.Entity):
		steps = []step{{profile.OpUpsert, ""}}
	case ev.Op == event.OpDelete:
		steps = []step{{profile.OpDelete, "once the partner has an id for the record; without one nothing is sent"},
			{profile.OpFind, "before a delete whose record's create was never committed"}}
	default:
		steps = []step{{profile.OpCreate, "while the partner has no id for the record"},
			{profile.OpFind, "before a create is retried"},
			{profile.OpUpdate, "once the partner has an id for the record"}}
	}
	label := ev.ID
	var out []previewRequest
	for _, s := range steps {
		r := previewRequest{Event: label, Op: string(s.op), When: s.when}
		rendered, err := p.RenderOp(s.op, ev, ids)
		if errors.Is(err, profile.ErrNoRequest) && s.op == profile.OpFind {
			// no find: a retried create is sent again, with the idempotency header if any
			if c, cerr := p.RenderOp(profile.OpCreate, ev, ids); ev.Op != event.OpDelete && cerr == nil && c.Idempotency == "" {
				out = append(out, previewRequest{Event: label, Op: "warning", Warning: "no find and no idempotency_header: " +
					"a create whose answer is lost (a timeout, a crash) is sent again and can make a duplicate at the partner"})
			}
			continue
		}
		if err != nil {
			r.Error = p.Mask(err.Error())
			out = append(out, r)
			continue
		}
		out = append(out, finishPreview(p, r, rendered, ev.IdemKey()))
	}
	return out
}

// finishPreview fills r with the request rendered, authorized as it would
// be sent (idemKey in the idempotency header), credentials masked.
func finishPreview(p *profile.Profile, r previewRequest, rendered profile.Rendered, idemKey string) previewRequest {
	r.Method, r.URL, r.Headers = rendered.Method, p.Mask(rendered.URL), map[string]string{}
	req, err := http.NewRequest(rendered.Method, rendered.URL, bytes.NewReader(rendered.Body))
	if err == nil {
		for k, v := range rendered.Headers {
			req.Header.Set(k, v)
		}
		if rendered.Idempotency != "" {
			req.Header.Set(rendered.Idempotency, idemKey)
		}
		err = p.Authorize(req, rendered.Body, time.Now(), "preview-nonce")
	}
	if err != nil {
		r.Error = p.Mask(err.Error())
		return r
	}
	if name := p.Auth.Query; name != "" && req.URL.Query().Has(name) {
		q := req.URL.Query()
		q.Set(name, apiclient.Redacted) // a key of any length
		req.URL.RawQuery = q.Encode()
	}
	r.URL = strings.NewReplacer("%7Bpartner_id%7D", "{partner_id}", "%7Bparent.partner_id%7D", "{parent.partner_id}", "%3Credacted%3E", apiclient.Redacted).Replace(p.Mask(req.URL.String()))
	for k := range req.Header {
		r.Headers[k] = maskHeader(p, k, req.Header.Get(k))
	}
	if len(rendered.Body) > 0 {
		r.Body = json.RawMessage(p.Mask(string(rendered.Body)))
	}
	return r
}

// previewBatch is the first batch the upserts of a bulk entity would make:
// up to the bulk size, one event an account, as the sink batches them.
func previewBatch(p *profile.Profile, entity string, events []event.Event, ids profile.IDs) previewRequest {
	size, _, _ := p.Bulk(entity)
	var batch []event.Event
	seen := map[string]bool{}
	for _, ev := range events {
		if len(batch) == size {
			break
		}
		if !seen[ev.Account] {
			seen[ev.Account] = true
			batch = append(batch, ev)
		}
	}
	names := make([]string, len(batch))
	perItem := make([]profile.IDs, len(batch))
	for i, ev := range batch {
		names[i] = ev.ID
		perItem[i] = ids
	}
	r := previewRequest{Event: strings.Join(names, ","), Op: "bulk",
		When: fmt.Sprintf("the first batch of %d upserts of %s: up to %d a request, one event an account", len(batch), entity, size)}
	rendered, err := p.RenderBulk(entity, batch, perItem)
	if err != nil {
		r.Error = p.Mask(err.Error())
		return r
	}
	return finishPreview(p, r, rendered, "")
}

// maskHeader hides a credential: the Authorization header's value after
// its scheme, and every secret of the profile wherever it stands.
func maskHeader(p *profile.Profile, name, v string) string {
	if p.Auth.Header != "" && strings.EqualFold(name, p.Auth.Header) {
		return apiclient.Redacted // an API key of any length
	}
	if strings.EqualFold(name, "Authorization") {
		if scheme, _, ok := strings.Cut(v, " "); ok {
			return scheme + " <redacted>"
		}
		return "<redacted>"
	}
	return p.Mask(v)
}

func printPreview(w io.Writer, rs []previewRequest) {
	for _, r := range rs {
		head := fmt.Sprintf("%s  %s", r.Event, r.Op)
		if r.When != "" {
			head += "  (" + r.When + ")"
		}
		fmt.Fprintln(w, head)
		if r.Error != "" {
			fmt.Fprintf(w, "  error: %s\n\n", r.Error)
			continue
		}
		if r.Warning != "" {
			fmt.Fprintf(w, "  warning: %s\n\n", r.Warning)
			continue
		}
		fmt.Fprintf(w, "  %s %s\n", r.Method, r.URL)
		names := make([]string, 0, len(r.Headers))
		for k := range r.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "  %s: %s\n", k, r.Headers[k])
		}
		if len(r.Body) > 0 {
			var pretty bytes.Buffer
			if json.Indent(&pretty, r.Body, "  ", "  ") == nil {
				fmt.Fprintf(w, "\n  %s\n", pretty.String())
			} else {
				fmt.Fprintf(w, "\n  %s\n", r.Body)
			}
		}
		fmt.Fprintln(w)
	}
}
