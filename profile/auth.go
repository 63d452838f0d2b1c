package profile

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/streamsync/streamsync/internal/apiclient"
)

// compiledAuth is the profile's Auth, checked, with its secrets read.
type compiledAuth struct {
	kind               string
	tokenURL, clientID string
	clientSecret       string
	scopes             []string
	token              string
	key, header, query string
	username, password string
	hmac               *compiledHMAC
	secrets            []string // every secret value, for Secrets and Mask
}

// DefaultTokenURL is an oauth2 profile's token_url when it names none;
// {base_url} is the profile's base URL (sink.base_url when set).
const DefaultTokenURL = "{base_url}/oauth/token"

// compileAuth checks a and reads its secrets; problems name the field
// under "auth".
func compileAuth(a Auth) (*compiledAuth, []problem) {
	var ps []problem
	fail := func(field, reason string) { ps = append(ps, problem{"auth." + field, reason}) }
	c := &compiledAuth{kind: a.Kind}
	secret := func(field, v string) string {
		s, err := readSecret(v)
		if err != nil {
			fail(field, err.Error())
			return ""
		}
		c.secrets = append(c.secrets, s)
		return s
	}
	required := func(field, v string) string {
		if v == "" {
			fail(field, "required for kind "+a.Kind)
		}
		return v
	}
	switch a.Kind {
	case "", AuthNone:
		c.kind = AuthNone
	case AuthOAuth2:
		c.tokenURL = a.TokenURL
		if c.tokenURL == "" {
			c.tokenURL = DefaultTokenURL
		}
		if u, err := url.Parse(strings.ReplaceAll(c.tokenURL, "{base_url}", "https://base.example")); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail("token_url", fmt.Sprintf("must be an absolute http(s) URL or start with {base_url}, is %q", a.TokenURL))
		}
		c.clientID = required("client_id", a.ClientID)
		c.clientSecret = secret("client_secret", a.ClientSecret)
		c.scopes = a.Scopes
	case AuthBearer:
		c.token = secret("token", a.Token)
	case AuthAPIKey:
		c.key = secret("key", a.Key)
		c.header, c.query = a.Header, a.Query
		if (a.Header == "") == (a.Query == "") {
			fail("header", "an api_key goes in a header or in the query: give exactly one of header and query")
		}
	case AuthBasic:
		c.username = required("username", a.Username)
		c.password = secret("password", a.Password)
		if c.username != "" && c.password != "" {
			c.secrets = append(c.secrets, c.username+":"+c.password)
		}
	case AuthHMAC:
		if a.HMAC == nil {
			fail("hmac", "required for kind hmac (secret, string_to_sign, sign_header or sign_query)")
			break
		}
		h, hps := compileHMAC(*a.HMAC)
		for _, p := range hps {
			fail("hmac."+p.field, p.reason)
		}
		if h.secret != "" {
			c.secrets = append(c.secrets, h.secret)
		}
		c.hmac = h
	default:
		fail("kind", fmt.Sprintf("must be one of none, oauth2, bearer, api_key, basic, hmac; is %q", a.Kind))
	}
	if a.Kind != AuthHMAC && a.HMAC != nil {
		fail("hmac", "is for kind hmac, the kind is "+c.kind)
	}
	return c, ps
}

// readSecret reads a secret as written in a profile: "env:NAME" is the
// environment variable NAME, "file:/path" the file's content with
// surrounding white space trimmed, anything else the value itself. A
// missing or empty value is an error; the error never holds the secret.
func readSecret(v string) (string, error) {
	switch {
	case v == "":
		return "", errors.New("required (env:NAME, file:/path or the value)")
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		if strings.HasPrefix(strings.ToUpper(name), "STREAMSYNC_") {
			// STREAMSYNC_* variables are settings (docs/operations.md): one
			// named here would be read as a setting too
			return "", fmt.Errorf("environment variable %s: names starting STREAMSYNC_ are streamsync's settings; name the secret's variable otherwise (e.g. PARTNER_SECRET)", name)
		}
		s, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		if s = strings.TrimSpace(s); s == "" {
			return "", fmt.Errorf("environment variable %s is empty", name)
		}
		return s, nil
	case strings.HasPrefix(v, "file:"):
		path := strings.TrimPrefix(v, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("secret file: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("secret file %s is empty", path)
		}
		return s, nil
	}
	return v, nil
}

// OAuth2 is what an apiclient.Tokens needs for an oauth2 profile: the
// token endpoint ({base_url} replaced by the profile's BaseURL as it is
// now), the client's id and secret and the scopes. ok is false for any
// other kind of auth.
func (p *Profile) OAuth2() (tokenURL, clientID, secret string, scopes []string, ok bool) {
	a := p.auth
	if a == nil || a.kind != AuthOAuth2 {
		return "", "", "", nil, false
	}
	tokenURL = strings.ReplaceAll(a.tokenURL, "{base_url}", strings.TrimRight(p.BaseURL, "/"))
	return tokenURL, a.clientID, a.clientSecret, a.scopes, true
}

// Authorize applies the profile's auth to r, which carries body (the exact
// bytes the sender sends; nil for none): a bearer token or Basic
// credential in Authorization, an api key in its header or query
// parameter, or an HMAC signature (see HMAC: its headers and query
// parameters added, the query rewritten in the sorted, RFC 3986-encoded
// form that was signed). now is the signature's {timestamp}, nonce its
// {nonce}. For oauth2 and none it does nothing: the sender adds the token
// from an apiclient.Tokens built from OAuth2(). An error is a query of r
// that cannot be parsed.
func (p *Profile) Authorize(r *http.Request, body []byte, now time.Time, nonce string) error {
	a := p.auth
	if a == nil {
		return nil
	}
	switch a.kind {
	case AuthBearer:
		r.Header.Set("Authorization", "Bearer "+a.token)
	case AuthAPIKey:
		if a.header != "" {
			r.Header.Set(a.header, a.key)
			break
		}
		r.URL.RawQuery = appendQuery(r.URL.RawQuery, a.query, a.key)
	case AuthBasic:
		r.SetBasicAuth(a.username, a.password)
	case AuthHMAC:
		if err := a.hmac.sign(r, body, now, nonce); err != nil {
			return fmt.Errorf("profile %s: auth.hmac: %w", p.Name, err)
		}
	}
	return nil
}

// appendQuery adds name=value to a raw query, RFC 3986-encoded.
func appendQuery(raw, name, value string) string {
	pair := escape3986(name) + "=" + escape3986(value)
	if raw == "" {
		return pair
	}
	return raw + "&" + pair
}

// Secrets are every secret of the profile's auth as read (client secret,
// token, api key, password and the Basic "username:password", HMAC
// secret), for the sender to keep out of logs, errors, previews and the
// attempt log (docs/security.md, "Secrets").
func (p *Profile) Secrets() []string {
	if p.auth == nil {
		return nil
	}
	return append([]string(nil), p.auth.secrets...)
}

// Mask returns s with every secret of the profile replaced by
// apiclient.Redacted, in every form apiclient.Scrub knows (as it is, URL-
// and JSON-escaped, base64 — so a Basic credential too). Secrets shorter
// than apiclient.MinSecretLen are not searched for in text.
func (p *Profile) Mask(s string) string {
	return apiclient.Scrub(s, p.Secrets()...)
}

// ReadSecret reads a secret as a profile writes it (env:NAME, file:/path,
// or the value), for settings that take secrets the same way; the error
// never holds the secret.
func ReadSecret(v string) (string, error) { return readSecret(v) }
