package partnersim

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// handleToken is POST /oauth/token: client credentials as form fields or
// HTTP Basic (RFC 6749 §2.3.1, so Basic values are form-decoded).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request", err.Error()))
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, errBody("unsupported_grant_type", "grant_type must be client_credentials, is "+gt))
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = formDecode(u), formDecode(p)
	}
	if s.opts.ClientID != "" && (id != s.opts.ClientID || secret != s.opts.ClientSecret || s.Faults().RefuseTokens) {
		writeJSON(w, http.StatusUnauthorized, errBody("invalid_client", "unknown client_id or wrong client_secret"))
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	s.stats.TokensIssued++
	s.mu.Unlock()
	expiresIn := int((s.opts.TokenTTL + time.Second - 1) / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": expiresIn})
}

func formDecode(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// authorized checks the bearer token; with no client id configured every
// request is allowed.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.ClientID == "" {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	if ok && !s.opts.Now().Before(exp) {
		delete(s.tokens, tok)
		return false
	}
	return ok
}
