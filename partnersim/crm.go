package partnersim

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The crm API (docs/partnersim-crm.md) is a second partner API served under
// /crm/ beside the built-in one (docs/partner-api.md), unlike it on purpose:
// ids the partner assigns, no versions, errors inside 200 answers, an API
// key or HMAC-signed calls, offset paging, a bulk upsert and rate-limit
// headers.

// Which APIs a Server serves (Options.API).
const (
	APIBoth = "both" // the built-in API and /crm/ (the default)
	APIV1   = "v1"   // the built-in API only: /crm/ answers 404
	APICRM  = "crm"  // /crm/ only: /oauth/token and /v1/ answer 404
)

// Auth kinds of the crm API (CRMOptions.Auth).
const (
	CRMAuthNone   = "none"
	CRMAuthAPIKey = "api_key"
	CRMAuthHMAC   = "hmac"
)

// Defaults of the crm API.
const (
	DefaultCRMAPIKey     = "streamsync-crm-key"
	DefaultCRMAppKey     = "streamsync"
	DefaultCRMSecret     = "streamsync-crm-secret"
	DefaultCRMMaxRecords = 10_000_000
	DefaultCRMRateLimit  = 100_000
	DefaultCRMRateWindow = time.Second
	DefaultCRMSignWindow = 300 * time.Second
	crmMaxLimit          = 200
	crmDefaultLimit      = 50
	crmMaxBatch          = 100
)

// Codes the crm API puts in its answers' "code" field.
const (
	CRMCodeOK             = 0
	CRMCodeInvalid        = 40000
	CRMCodeParentNotFound = 40001
	CRMCodeNotFound       = 40004
	CRMCodeAuth           = 40100
	CRMCodeNoRoute        = 40400
	CRMCodeTooLarge       = 41300
	CRMCodeRateLimited    = 42900
	CRMCodeUnavailable    = 50300 // with HTTP 503: an injected server fault or an outage
	CRMCodeFull           = 50700 // with HTTP 507: the record store holds MaxRecords
)

// CRMOptions configure the crm API. The zero value is usable: no auth.
type CRMOptions struct {
	// Auth is none (the default), api_key (header X-Api-Key must equal
	// APIKey) or hmac (X-App-Key, X-Timestamp, X-Nonce, X-Sign; see CRMSign).
	Auth   string
	APIKey string
	// AppKey and Secret are the HMAC app key and secret.
	AppKey string
	Secret string
	// SignWindow is how far X-Timestamp may be from the sim's clock, and how
	// long a nonce is remembered (DefaultCRMSignWindow when 0).
	SignWindow time.Duration
	// MaxRecords bounds the record store; a create beyond it is answered
	// 507 {"code":50700} (DefaultCRMMaxRecords when 0).
	MaxRecords int
	// RateLimit calls are allowed per RateWindow (a fixed window); more are
	// answered {"code":42900} (DefaultCRMRateLimit and DefaultCRMRateWindow
	// when 0).
	RateLimit  int
	RateWindow time.Duration
}

func (o *CRMOptions) setDefaults() {
	if o.Auth == "" {
		o.Auth = CRMAuthNone
	}
	if o.SignWindow <= 0 {
		o.SignWindow = DefaultCRMSignWindow
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = DefaultCRMMaxRecords
	}
	if o.RateLimit <= 0 {
		o.RateLimit = DefaultCRMRateLimit
	}
	if o.RateWindow <= 0 {
		o.RateWindow = DefaultCRMRateWindow
	}
}

// Validate reports an auth kind that is unknown or lacks its key or secret.
func (o CRMOptions) Validate() error {
	switch o.Auth {
	case "", CRMAuthNone:
	case CRMAuthAPIKey:
		if o.APIKey == "" {
			return errors.New("crm auth api_key needs an API key")
		}
	case CRMAuthHMAC:
		if o.AppKey == "" || o.Secret == "" {
			return errors.New("crm auth hmac needs an app key and a secret")
		}
	default:
		return fmt.Errorf("crm auth must be none, api_key or hmac, is %q", o.Auth)
	}
	return nil
}

// crmCall is one crm request as a handler sees it: the path values and the
// body's exact bytes (already read for the signature check).
type crmCall struct {
	r      *http.Request
	entity string
	id     string
	body   []byte
	rate   rateInfo // the X-RateLimit-* values of this call
}

// crmAnswer is what a handler decides; crmGuard writes it.
type crmAnswer struct {
	body []byte // the JSON answered with HTTP 200 unless status is set
	// status, when not 0, is the HTTP status (server faults only).
	status int
	// drop: the change is applied, the connection is closed without an answer.
	drop bool
	// hang: the change is applied, the answer is held until the client gives
	// up (or crmHangMax), then the connection is closed.
	hang   bool
	replay bool
	code   int
	// create: a single create made a new record; bulk: a batch_upsert was
	// applied (for the drop_creates and hang_bulk faults).
	create, bulk bool
}

// crmHangMax bounds how long a hung bulk answer is held.
const crmHangMax = 2 * time.Minute

type crmHandler func(c *crmCall) crmAnswer

// routeCRM registers the crm API's routes on mux.
func (s *Server) routeCRM(mux *http.ServeMux) {
	mux.HandleFunc("POST /crm/v2/{entity}", s.crmGuard("", s.crmCreate))
	mux.HandleFunc("GET /crm/v2/{entity}", s.crmGuard("", s.crmList))
	mux.HandleFunc("POST /crm/v2/{entity}/batch_upsert", s.crmGuard("/batch_upsert", s.crmBatchUpsert))
	mux.HandleFunc("GET /crm/v2/{entity}/{id}", s.crmGuard("/{id}", s.crmGet))
	mux.HandleFunc("PATCH /crm/v2/{entity}/{id}", s.crmGuard("/{id}", s.crmPatch))
	mux.HandleFunc("DELETE /crm/v2/{entity}/{id}", s.crmGuard("/{id}", s.crmDelete))
	mux.HandleFunc("/crm/", func(w http.ResponseWriter, r *http.Request) {
		s.crm.count(r.Method+" "+r.URL.Path, CRMCodeNoRoute)
		writeCRM(w, http.StatusNotFound, crmErr(CRMCodeNoRoute, "no such endpoint: "+r.Method+" "+r.URL.Path).body)
	})
}

// crmGuard runs everything a crm call goes through, in this order: the
// body read, an outage answered 503, the auth
// checked (40100), the rate limit and the injected 429s applied (42900), the
// injected error rate answered 503, the injected latency waited; then the
// handler runs, the call is counted by route and code, and the answer is
// delayed, dropped or hung as the faults say. Every answer carries
// X-RateLimit-Limit, -Remaining and -Reset.
func (s *Server) crmGuard(tail string, h crmHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &crmCall{r: r, entity: r.PathValue("entity"), id: r.PathValue("id")}
		route := r.Method + " /crm/v2/" + c.entity + tail
		a := s.crmServe(w, c, h)
		s.crm.count(route, a.code)
		for k, v := range s.crmRateHeaders(c) {
			w.Header()[k] = v
		}
		if a.drop || a.hang {
			s.crmAbort(r, a)
		}
		if a.replay {
			w.Header().Set("X-Idempotent-Replayed", "true")
		}
		status := a.status
		if status == 0 {
			status = http.StatusOK
		}
		writeCRM(w, status, a.body)
	}
}

// crmServe runs the checks and the handler and returns the answer.
func (s *Server) crmServe(w http.ResponseWriter, c *crmCall, h crmHandler) crmAnswer {
	f := s.Faults()
	if f.Outage {
		return crmFault(CRMCodeUnavailable, "the partner is down")
	}
	body, bad := readCRMBody(w, c.r)
	if bad != nil {
		return *bad
	}
	c.body = body
	if a, ok := s.crmAuthorize(c); !ok {
		return a
	}
	delay, a, refused := s.crmBefore(c)
	if refused {
		return a
	}
	if !s.crmWait(c.r, delay) {
		return crmAnswer{drop: true}
	}
	if !entityRe.MatchString(c.entity) {
		return crmErr(CRMCodeInvalid, "entity must match [a-z0-9_-]{1,64}")
	}
	return s.crmAfter(c, h(c))
}

func crmErr(code int, msg string) crmAnswer {
	return crmAnswer{code: code, body: mustJSON(map[string]any{"code": code, "msg": msg})}
}

func crmFault(code int, msg string) crmAnswer {
	a := crmErr(code, msg)
	a.status = http.StatusServiceUnavailable
	if code == CRMCodeFull {
		a.status = http.StatusInsufficientStorage
	}
	return a
}

// crmOK is {"code":0} with data when data is not nil.
func crmOK(data any) crmAnswer {
	if data == nil {
		return crmAnswer{body: []byte(`{"code":0}`)}
	}
	return crmAnswer{body: mustJSON(struct {
		Code int `json:"code"`
		Data any `json:"data"`
	}{0, data})}
}

func writeCRM(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
