package profile

import "github.com/itchyny/gojq"

// Profile is one partner's API (docs/partners.md). Entities holds the
// entities' own sections; Defaults applies to every entity, an entity's
// section overriding it field by field.
type Profile struct {
	Name string `yaml:"name"`
	// BaseURL is the partner's API root; sink.base_url, when set, wins
	// (so one profile serves a test server and production alike).
	BaseURL string `yaml:"base_url"`
	// Auth is how every request proves who we are; none when absent.
	Auth Auth `yaml:"auth"`
	// Versions is what the partner keeps of a record's version: "number"
	// (the default, as the built-in API), "time" (an RFC 3339 time, read as
	// unix ms) or "none" (stale and unchanged are the ledger's alone;
	// reconciliation compares content only). Read it with Versions().
	VersionKind string `yaml:"versions"`
	// Limit bounds the calls to the partner; read it with Limits().
	Limit    Limits             `yaml:"limits"`
	Defaults Entity             `yaml:"defaults"`
	Entities map[string]*Entity `yaml:"entities"`
	// Webhooks is how the partner's webhooks become changes (see Webhooks);
	// nil: the profile maps none.
	Webhooks *Webhooks `yaml:"webhooks"`

	checked  map[string]*compiled // entity → what Check made of it; "*" for an entity without a section
	auth     *compiledAuth
	webhooks *compiledWebhooks
}

// Limits are per partner.
type Limits struct {
	// Rate is requests per second (0: no limit); Burst the requests that
	// may go at once after a quiet spell (default: Rate/10, at least 1).
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	// Concurrency is the requests in flight at once (0: no limit beyond
	// the pipeline's own).
	Concurrency int `yaml:"concurrency"`
	// Timeout is one request's, as a Go duration ("10s"); empty: sink.timeout.
	Timeout string `yaml:"timeout"`
}

// Entity says what an entity's events become. Headers and Query apply to
// every request of the entity.
//
// A partner keyed by our key has Upsert (e.g. PUT /records/{key}); a
// partner that assigns its own ids has Create (used while the id map has no
// id for the record) and Update (once it has: {partner_id} in its path or
// body), and Find to look a record up by our key before a create is
// retried. Delete is either's.
type Entity struct {
	Headers map[string]string `yaml:"headers"`
	Query   map[string]string `yaml:"query"`
	Upsert  *Request          `yaml:"upsert"`
	Create  *Request          `yaml:"create"`
	Update  *Request          `yaml:"update"`
	Delete  *Request          `yaml:"delete"`
	Find    *Request          `yaml:"find"`
	// Answers are the rules that judge the partner's answers; an entity's
	// own are tried before the defaults' (see Rule).
	Answers []Rule `yaml:"answers"`
	// Read is how reconciliation (and `partner check`) reads the partner's
	// records of the entity.
	Read *Read `yaml:"read"`
	// Compare names what reconciliation compares.
	Compare *Compare `yaml:"compare"`
	// Bulk, when set, sends the entity's upserts in batches.
	Bulk *Bulk `yaml:"bulk"`
}

// Request is one HTTP request: Path and the values of Query and Headers may
// hold placeholders ({key}, {data.name}, {partner_id}, {parent.partner_id},
// … see Placeholders); Body is a jq program over the event (fields id,
// account, entity, key, op, version, data, parent {entity, key,
// partner_id}, partner_id) whose one result is sent as JSON. An empty Body
// sends no body.
type Request struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Query   map[string]string `yaml:"query"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// ID (create and find) is a jq program over the answer's JSON body
	// giving the partner's id of the record (a string or a number; no
	// result, null or "" from find: not there). IDFrom "location" reads it
	// from the Location header's last path segment instead.
	ID     string `yaml:"id"`
	IDFrom string `yaml:"id_from"`
	// Idempotency names the header that carries the event's idempotency
	// key (its id, or id:version for op=sync) where the partner has one.
	Idempotency string `yaml:"idempotency_header"`
	// Always (find only) looks the record up before every create, not only
	// before a retried one: for a partner that already holds records
	// streamsync never created (go-live against a filled partner). Repairs
	// and backfills look up first anyway.
	Always bool `yaml:"always"`
}

// Read is how the partner's records of an entity are read.
type Read struct {
	// Get reads one record ({key} or {partner_id} in its path or query);
	// a 404 means it is not there. Its answer is one item, or — with
	// Items — a list holding it.
	Get *Request `yaml:"get"`
	// List reads every record, a page at a time.
	List *Request `yaml:"list"`
	// Paging is how List's pages follow each other.
	Paging Paging `yaml:"paging"`
	// Items is a jq program over a list answer's body giving the page's
	// items as an array (default: the body itself).
	Items string `yaml:"items"`
	// GetItem is a jq program over a get's answer giving the one item
	// ({"data": {…}} → .data); null or no result: not there. Empty: the
	// answer is the item, or a list (per Items) holding it.
	GetItem string `yaml:"get_item"`
	// Item is a jq program over one partner item giving our shape:
	// {key, account (optional), version (optional: a number, or an RFC 3339
	// time when versions is time), data (an object), deleted (optional
	// bool: archived, disabled … count as deleted)}.
	Item string `yaml:"item"`
	// MaxPageBytes bounds one page's answer (default 32 MiB).
	MaxPageBytes int64 `yaml:"max_page_bytes"`
	// Since, when set, is how List is asked for only the records changed
	// since a moment, and how an item's updated time is read: what polling
	// a partner for its changes needs (see Since).
	Since *Since `yaml:"since"`
}

// Paging kinds.
const (
	PagingCursor     = "cursor"      // a cursor in the body, sent back as a query parameter
	PagingNextLink   = "next_link"   // a next link (URL) in the body
	PagingLinkHeader = "link_header" // RFC 8288 Link: <…>; rel="next"
	PagingOffset     = "offset"      // offset and limit query parameters
	PagingPage       = "page"        // page number and page size query parameters
)

// Paging says how a list's pages follow each other.
type Paging struct {
	// Kind is cursor, next_link, link_header, offset or page.
	Kind string `yaml:"kind"`
	// Size is the page size asked for (default 100); SizeParam the query
	// parameter that carries it (limit, per_page, …; empty: not sent).
	Size      int    `yaml:"size"`
	SizeParam string `yaml:"size_param"`
	// Param is the query parameter of the cursor, offset or page number.
	Param string `yaml:"param"`
	// Next is a jq program over the body giving the next cursor or link
	// (cursor, next_link); null or "" ends the list.
	Next string `yaml:"next"`
	// First is the first page's number (page; default 1).
	First int `yaml:"first"`
}

// Compare says what reconciliation hashes of a record, on both sides.
type Compare struct {
	// Fields are the top-level fields of data compared (both sides own
	// them); empty: all of data.
	Fields []string `yaml:"fields"`
	// Times are fields compared as instants (RFC 3339 in any offset equals
	// the same instant in UTC).
	Times []string `yaml:"times"`
	// CaseInsensitive are text fields compared without regard to case (a
	// partner that lower-cases e-mail addresses).
	CaseInsensitive []string `yaml:"case_insensitive"`
}

// Bulk sends up to Size upserts of one entity in one request (at most one
// event per account, so per-account order holds).
type Bulk struct {
	Size int `yaml:"size"`
	// Linger is how long a batch waits for more events (Go duration,
	// default 5ms).
	Linger string `yaml:"linger"`
	// Request's Body is a jq program over the batch: an array of events as
	// a Request's Body sees one.
	Request *Request `yaml:"request"`
	// Results is a jq program over the answer's body giving one result per
	// item, in the batch's order or matched by Match: {ok (bool), id
	// (optional: the partner's id of a created record), status (optional
	// number: judged by the answer rules), error (optional string)}.
	Results string `yaml:"results"`
	// Match is a jq program over one result giving the key (or event id)
	// it belongs to; empty: results are in the batch's order.
	Match string `yaml:"match"`
}

// Auth kinds.
const (
	AuthNone   = "none"
	AuthOAuth2 = "oauth2" // client credentials grant (RFC 6749 §4.4)
	AuthBearer = "bearer" // a static token
	AuthAPIKey = "api_key"
	AuthBasic  = "basic"
	AuthHMAC   = "hmac"
)

// Auth is how requests prove who we are. Secrets (ClientSecret, Token, Key,
// Password, HMAC.Secret) are written "env:NAME" (an environment variable),
// "file:/path" (a file's content, trimmed) or, in tests only, as the value.
type Auth struct {
	Kind string `yaml:"kind"`
	// oauth2
	TokenURL     string   `yaml:"token_url"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
	// bearer
	Token string `yaml:"token"`
	// api_key: the key sent in Header or in the query parameter Query.
	Key    string `yaml:"key"`
	Header string `yaml:"header"`
	Query  string `yaml:"query"`
	// basic
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// hmac
	HMAC *HMAC `yaml:"hmac"`
}

// HMAC signs every call: a string composed from the call (StringToSign,
// with {method}, {path}, {query} (sorted, encoded), {body} (the exact bytes
// sent), {body_sha256}, {body_md5}, {timestamp}, {nonce}, {app_key},
// {secret}) hashed by Algorithm and encoded by Encoding, sent in the header
// SignHeader or the query parameter SignQuery; Headers and Query add the
// timestamp, nonce and app key where the partner wants them (their values
// may hold the same placeholders, and a Query added here takes part in
// {query}).
type HMAC struct {
	Secret       string `yaml:"secret"`
	AppKey       string `yaml:"app_key"`
	Algorithm    string `yaml:"algorithm"` // hmac-sha256 (default), hmac-sha1, hmac-md5, sha256, sha1, md5 (plain hashes of the string, which then holds {secret})
	Encoding     string `yaml:"encoding"`  // hex (default), HEX (upper case), base64
	StringToSign string `yaml:"string_to_sign"`
	// Timestamp is unix (seconds, default), unix_ms or rfc3339.
	Timestamp  string            `yaml:"timestamp"`
	SignHeader string            `yaml:"sign_header"`
	SignQuery  string            `yaml:"sign_query"`
	Headers    map[string]string `yaml:"headers"`
	Query      map[string]string `yaml:"query"`
}

// compiled is one entity's requests, ready to render.
type compiled struct {
	upsert, create, update, delete, find *request
	rules                                []rule
	read                                 *compiledRead
	compare                              *compiledCompare
	bulk                                 *compiledBulk
	needsParent                          bool // some request uses the parent's partner id
}

type request struct {
	Request
	body *gojq.Code
	id   *gojq.Code
	// tmpl renders body without jq when the program has template's shape.
	tmpl *template
	// needsData: a placeholder of the path, query or headers names a field
	// of data ({data.FIELD}), so data is decoded for it.
	needsData bool
}
