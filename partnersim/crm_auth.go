package partnersim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Headers of the crm API's auth (docs/partnersim-crm.md).
const (
	CRMAPIKeyHeader    = "X-Api-Key"
	CRMAppKeyHeader    = "X-App-Key"
	CRMTimestampHeader = "X-Timestamp"
	CRMNonceHeader     = "X-Nonce"
	CRMSignHeader      = "X-Sign"
)

// CRMStringToSign is what an HMAC-signed crm call signs: METHOD, PATH (as
// sent, percent-encoded), the sorted query (CRMCanonicalQuery), the
// timestamp (unix seconds), the nonce and the body's exact bytes, joined by
// "\n".
func CRMStringToSign(method, path string, query url.Values, timestamp, nonce string, body []byte) []byte {
	var b strings.Builder
	b.Grow(len(method) + len(path) + len(timestamp) + len(nonce) + len(body) + 64)
	for _, s := range []string{method, "\n", path, "\n", CRMCanonicalQuery(query), "\n", timestamp, "\n", nonce, "\n"} {
		b.WriteString(s)
	}
	b.Write(body)
	return []byte(b.String())
}

// CRMSign is X-Sign: hex(HMAC-SHA256(secret, CRMStringToSign(…))).
func CRMSign(secret, method, path string, query url.Values, timestamp, nonce string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(CRMStringToSign(method, path, query, timestamp, nonce, body))
	return hex.EncodeToString(m.Sum(nil))
}

// CRMCanonicalQuery is the query sorted by name (then value), each name and
// value RFC 3986-encoded (everything but A–Z a–z 0–9 - . _ ~ as %XX, upper
// case; a space is %20), joined as name=value with "&"; "" when there is none.
func CRMCanonicalQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, k := range names {
		vs := slices.Clone(q[k])
		slices.Sort(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(rfc3986(k))
			b.WriteByte('=')
			b.WriteString(rfc3986(v))
		}
	}
	return b.String()
}

func rfc3986(s string) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&15])
	}
	return b.String()
}

// crmAuthorize checks the call's credentials as CRMOptions.Auth says; a
// refusal is {"code":40100} with the reason in "detail".
func (s *Server) crmAuthorize(c *crmCall) (crmAnswer, bool) {
	o := s.crm.opts
	h := c.r.Header
	switch o.Auth {
	case CRMAuthAPIKey:
		if subtle.ConstantTimeCompare([]byte(h.Get(CRMAPIKeyHeader)), []byte(o.APIKey)) != 1 {
			return crmAuthErr("bad api key", "missing or unknown "+CRMAPIKeyHeader), false
		}
	case CRMAuthHMAC:
		if reason := s.crmCheckSign(c, o); reason != "" {
			return crmAuthErr("bad signature", reason), false
		}
	}
	return crmAnswer{}, true
}

func crmAuthErr(msg, detail string) crmAnswer {
	return crmAnswer{code: CRMCodeAuth, body: mustJSON(map[string]any{"code": CRMCodeAuth, "msg": msg, "detail": detail})}
}

// crmCheckSign says why an HMAC-signed call is refused, or "".
func (s *Server) crmCheckSign(c *crmCall, o CRMOptions) string {
	h := c.r.Header
	if subtle.ConstantTimeCompare([]byte(h.Get(CRMAppKeyHeader)), []byte(o.AppKey)) != 1 {
		return "missing or unknown " + CRMAppKeyHeader
	}
	ts, nonce := h.Get(CRMTimestampHeader), h.Get(CRMNonceHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return CRMTimestampHeader + " must be unix seconds"
	}
	now := s.opts.Now()
	if d := now.Sub(time.Unix(sec, 0)); d > o.SignWindow || d < -o.SignWindow {
		return CRMTimestampHeader + " is more than " + o.SignWindow.String() + " from the partner's clock"
	}
	if nonce == "" {
		return CRMNonceHeader + " is required"
	}
	got, err := hex.DecodeString(h.Get(CRMSignHeader))
	if err != nil || len(got) != sha256.Size {
		return CRMSignHeader + " must be 64 hex digits"
	}
	m := hmac.New(sha256.New, []byte(o.Secret))
	m.Write(CRMStringToSign(c.r.Method, c.r.URL.EscapedPath(), c.r.URL.Query(), ts, nonce, c.body))
	if !hmac.Equal(got, m.Sum(nil)) {
		return "signature does not match the call"
	}
	if !s.crm.useNonce(nonce, now) {
		return CRMNonceHeader + " was used within the last " + o.SignWindow.String()
	}
	return ""
}
