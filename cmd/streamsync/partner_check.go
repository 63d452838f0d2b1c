package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/partnerread"
	"github.com/streamsync/streamsync/profile"
	"github.com/streamsync/streamsync/source"
)

// checkTimeout bounds `partner check` as a whole.
const checkTimeout = 30 * time.Second

// checkResult is what `partner check` found.
type checkResult struct {
	Profile string `json:"profile"`
	BaseURL string `json:"base_url"`
	Entity  string `json:"entity"`
	OK      bool   `json:"ok"`
	// Verdict: answered (credentials accepted), unreachable, refused
	// (credentials), or failed (any other answer).
	Verdict string `json:"verdict"`
	Records int    `json:"records"`
	Detail  string `json:"detail,omitempty"`
}

// checkPartner makes harmless reads of the partner — the first page of an
// entity's list, then its first record by read.get (docs/partners.md,
// "Trying a profile") — and says
// whether the partner answers and accepts our credentials. It fails when
// it does not.
func checkPartner(ctx context.Context, e *env, p *profile.Profile) error {
	entity, _ := e.fs.GetString("entity")
	if entity == "" {
		names := make([]string, 0, len(p.Entities))
		for n := range p.Entities {
			if p.CanRead(n) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		if len(names) == 0 {
			return errors.New("partner check: the profile names no entity it can read; give one with --entity E (its list is read)")
		}
		entity = names[0]
	}
	c := e.cfg.Sink
	tc, err := tlsFor("sink", c.TLSFiles())
	if err != nil {
		return err
	}
	r, err := partnerread.New(partnerread.Config{Profile: p, Timeout: c.Timeout, TLS: tc, Retries: 1, Logger: e.log})
	if err != nil {
		return err
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	res := checkResult{Profile: p.Name, BaseURL: apiclient.RedactURL(p.BaseURL), Entity: entity}
	page, err := r.List(entity, source.ListOptions{}).Next(ctx)
	switch {
	case err == nil || errors.Is(err, io.EOF):
		res.OK, res.Verdict, res.Records = true, "answered", len(page)
		res.Detail = "the partner answered the first page of the list and accepted the credentials"
		if len(page) > 0 {
			// the first record read again by read.get: the point reads
			// reconciliation re-checks differences with work too
			key := page[0].Key
			got, found, gerr := r.Get(ctx, entity, key)
			switch {
			case gerr != nil:
				res.OK, res.Verdict = false, "failed (the list answered, the point read did not)"
				res.Detail = fmt.Sprintf("read.get of %q, the list's first record: %s", key, p.Mask(gerr.Error()))
			case !found:
				res.OK, res.Verdict = false, "failed (the list answered, the point read did not)"
				res.Detail = fmt.Sprintf("read.get of %q, the list's first record, found nothing: check read.get, get_item and item (and, for {partner_id}, find)", key)
			case got.Key != key:
				res.OK, res.Verdict = false, "failed (the point read gave another record)"
			default:
				res.Detail += fmt.Sprintf("; read.get of %q found it", key)
			}
		}
	default:
		res.Verdict, res.Detail = checkVerdict(err), p.Mask(err.Error())
	}
	if e.format == "json" {
		if err := json.NewEncoder(e.out).Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.out, "partner %s at %s, entity %s: %s", res.Profile, res.BaseURL, res.Entity, res.Verdict)
		if res.OK {
			fmt.Fprintf(e.out, " (%d records on the first page)", res.Records)
		}
		fmt.Fprintf(e.out, "\n  %s\n", res.Detail)
	}
	if !res.OK {
		return fmt.Errorf("partner check: %s", res.Verdict)
	}
	return nil
}

// checkVerdict names what a failed read means for the user.
func checkVerdict(err error) string {
	var se *source.StatusError
	if errors.As(err, &se) {
		if se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden || se.Refused {
			return "refused (the partner does not accept the credentials)"
		}
		return fmt.Sprintf("failed (the partner answered %d)", se.Status)
	}
	if source.IsTransient(err) {
		return "unreachable"
	}
	return "failed"
}
