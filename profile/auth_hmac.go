package profile

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HMAC algorithms, encodings and timestamp forms (docs/partners.md,
// "HMAC-signed calls").
var (
	hmacAlgorithms = []string{"hmac-sha256", "hmac-sha1", "hmac-md5", "sha256", "sha1", "md5"}
	hmacEncodings  = []string{"hex", "HEX", "base64"}
	hmacTimestamps = []string{"unix", "unix_ms", "rfc3339"}
	// signPlaceholders may appear in string_to_sign.
	signPlaceholders = []string{"method", "path", "query", "body", "body_sha256", "body_md5", "timestamp", "nonce", "app_key", "secret"}
	// addedPlaceholders may appear in hmac.headers and hmac.query values:
	// never the secret or the body.
	addedPlaceholders = []string{"method", "path", "body_sha256", "body_md5", "timestamp", "nonce", "app_key"}
)

// compiledHMAC is an HMAC section checked, its secret read.
type compiledHMAC struct {
	HMAC
	secret, appKey string
}

// compileHMAC checks h; problems name the field under auth.hmac.
func compileHMAC(h HMAC) (*compiledHMAC, []problem) {
	var ps []problem
	fail := func(field, reason string) { ps = append(ps, problem{field, reason}) }
	c := &compiledHMAC{HMAC: h}
	if h.Secret == "" {
		fail("secret", "required: an HMAC needs a secret (env:NAME, file:/path or the value)")
	} else if s, err := readSecret(h.Secret); err != nil {
		fail("secret", err.Error())
	} else {
		c.secret = s
	}
	if h.AppKey != "" {
		k, err := readSecret(h.AppKey)
		if err != nil {
			fail("app_key", err.Error())
		}
		c.appKey = k
	}
	if c.Algorithm == "" {
		c.Algorithm = "hmac-sha256"
	}
	if !slices.Contains(hmacAlgorithms, c.Algorithm) {
		fail("algorithm", fmt.Sprintf("must be one of %s; is %q", strings.Join(hmacAlgorithms, ", "), h.Algorithm))
	}
	if c.Encoding == "" {
		c.Encoding = "hex"
	}
	if !slices.Contains(hmacEncodings, c.Encoding) {
		fail("encoding", fmt.Sprintf("must be one of %s; is %q", strings.Join(hmacEncodings, ", "), h.Encoding))
	}
	if c.Timestamp == "" {
		c.Timestamp = "unix"
	}
	if !slices.Contains(hmacTimestamps, c.Timestamp) {
		fail("timestamp", fmt.Sprintf("must be one of %s; is %q", strings.Join(hmacTimestamps, ", "), h.Timestamp))
	}
	if h.StringToSign == "" {
		fail("string_to_sign", "required: the string the signature is computed over, e.g. \"{method}\\n{path}\\n{query}\\n{timestamp}\\n{body}\"")
	} else if err := checkNames(h.StringToSign, signPlaceholders); err != nil {
		fail("string_to_sign", err.Error())
	} else if !strings.HasPrefix(c.Algorithm, "hmac-") && !hasPlaceholder(h.StringToSign, "secret") {
		fail("string_to_sign", fmt.Sprintf("a plain %s signature must hold {secret}, else anyone can compute it", c.Algorithm))
	}
	if (h.SignHeader == "") == (h.SignQuery == "") {
		fail("sign_header", "the signature goes in a header or in the query: give exactly one of sign_header and sign_query")
	}
	for k, v := range h.Headers {
		if err := checkNames(v, addedPlaceholders); err != nil {
			fail("headers", k+": "+err.Error())
		}
	}
	for k, v := range h.Query {
		if err := checkNames(v, addedPlaceholders); err != nil {
			fail("query", k+": "+err.Error())
		}
	}
	return c, ps
}

// checkNames returns an error naming the first placeholder of s not among
// names.
func checkNames(s string, names []string) error {
	for _, m := range placeholderRe.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(names, m[1]) {
			return fmt.Errorf("unknown placeholder {%s} (known here: {%s})", m[1], strings.Join(names, "}, {"))
		}
	}
	if strings.Count(s, "{") != strings.Count(s, "}") {
		return fmt.Errorf("unbalanced braces in %q", s)
	}
	return nil
}

// sign adds h's query parameters and headers to r and signs it: the query
// becomes every parameter (r's and hmac.query's) sorted by name then
// value, RFC 3986-encoded, joined with & — sent so, and {query} in the
// string to sign; {path} is r's escaped path as sent; {body} the exact
// bytes of body. The signature goes in sign_header, or is appended as the
// query parameter sign_query (not itself signed).
func (h *compiledHMAC) sign(r *http.Request, body []byte, now time.Time, nonce string) error {
	vals := h.values(r, body, timestamp(h.Timestamp, now), nonce)
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("the request's query: %w", err)
	}
	for k, v := range h.Query {
		q.Add(k, fillNames(v, vals))
	}
	canon := canonicalQuery(q)
	r.URL.RawQuery = canon
	vals["query"] = canon
	for k, v := range h.Headers {
		r.Header.Set(k, fillNames(v, vals))
	}
	sig := h.signature(fillNames(h.StringToSign, vals))
	if h.SignHeader != "" {
		r.Header.Set(h.SignHeader, sig)
	} else {
		r.URL.RawQuery = appendQuery(canon, h.SignQuery, sig)
	}
	return nil
}

// values are the placeholders' values for a request r carrying body,
// signed at ts with nonce; {query} is the caller's.
func (h *compiledHMAC) values(r *http.Request, body []byte, ts, nonce string) map[string]string {
	sum256 := sha256.Sum256(body)
	sumMD5 := md5.Sum(body)
	return map[string]string{
		"method":      r.Method,
		"path":        r.URL.EscapedPath(),
		"body":        string(body),
		"body_sha256": hex.EncodeToString(sum256[:]),
		"body_md5":    hex.EncodeToString(sumMD5[:]),
		"timestamp":   ts,
		"nonce":       nonce,
		"app_key":     h.appKey,
		"secret":      h.secret,
	}
}

// signature is s hashed by the algorithm and encoded.
func (h *compiledHMAC) signature(s string) string {
	var m hash.Hash
	key := []byte(h.secret)
	switch h.Algorithm {
	case "hmac-sha256":
		m = hmac.New(sha256.New, key)
	case "hmac-sha1":
		m = hmac.New(sha1.New, key)
	case "hmac-md5":
		m = hmac.New(md5.New, key)
	case "sha256":
		m = sha256.New()
	case "sha1":
		m = sha1.New()
	default: // md5
		m = md5.New()
	}
	m.Write([]byte(s))
	sum := m.Sum(nil)
	switch h.Encoding {
	case "HEX":
		return strings.ToUpper(hex.EncodeToString(sum))
	case "base64":
		return base64.StdEncoding.EncodeToString(sum)
	}
	return hex.EncodeToString(sum)
}

func timestamp(form string, now time.Time) string {
	switch form {
	case "unix_ms":
		return strconv.FormatInt(now.UnixMilli(), 10)
	case "rfc3339":
		return now.UTC().Format(time.RFC3339)
	}
	return strconv.FormatInt(now.Unix(), 10)
}

// fillNames replaces each {name} of s by vals[name].
func fillNames(s string, vals map[string]string) string {
	return expand(s, func(name string) string { return vals[name] })
}

// canonicalQuery is q sorted by name, then value, each RFC 3986-encoded,
// joined with &.
func canonicalQuery(q url.Values) string {
	type pair struct{ k, v string }
	var ps []pair
	for k, vs := range q {
		for _, v := range vs {
			ps = append(ps, pair{k, v})
		}
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = escape3986(p.k) + "=" + escape3986(p.v)
	}
	return strings.Join(parts, "&")
}

// escape3986 percent-encodes every byte of s but the unreserved characters
// of RFC 3986 §2.3 (ALPHA DIGIT - . _ ~), upper-case hex: a space is %20.
func escape3986(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
