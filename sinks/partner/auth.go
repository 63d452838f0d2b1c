package partner

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultAuthLogEvery is how often, at most, the refused credentials are
// logged as an ERROR (docs/events.md: at most once a minute).
const DefaultAuthLogEvery = time.Minute

// auth tracks whether the token endpoint accepts the client credentials,
// and says so loudly while it does not: an ERROR naming sink.client_id and
// the endpoint's answer at most once per AuthLogEvery, the
// streamsync_partner_auth_ok gauge, and Health for `streamsync status`.
type auth struct {
	setting            string // "sink.client_id", or a partner's
	clientID, tokenURL string
	every              time.Duration
	now                func() time.Time
	log                *slog.Logger
	m                  *metrics

	down atomic.Bool // refused, read without the lock on every call

	mu      sync.Mutex
	refused bool
	detail  string    // the endpoint's answer while refused
	since   time.Time // first refusal of this spell
	logged  time.Time // last ERROR
}

// accepted notes a token the endpoint issued.
func (a *auth) accepted() {
	if !a.down.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.refused {
		return
	}
	a.refused, a.detail = false, ""
	a.down.Store(false)
	a.m.authOK.Set(1)
	a.log.Info("partner token endpoint accepts the credentials again; delivery resumes",
		a.setting, a.clientID, "token_url", a.tokenURL, "refused_for", a.now().Sub(a.since).Round(time.Second).String())
}

// refusedWith notes a refusal, and logs it unless it was logged less than
// a.every ago.
func (a *auth) refusedWith(detail string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if !a.refused {
		a.refused, a.since = true, now
		a.down.Store(true)
		a.m.authOK.Set(0)
	}
	a.detail = detail
	if !a.logged.IsZero() && now.Sub(a.logged) < a.every {
		return
	}
	a.logged = now
	a.log.Error("partner token endpoint refuses the credentials; events wait (none is dead-lettered) until it accepts them: check "+
		a.setting+" and "+strings.TrimSuffix(a.setting, "_id")+"_secret",
		a.setting, a.clientID, "token_url", a.tokenURL, "answer", detail, "refused_since", a.since)
}

// state is what Health reports.
func (a *auth) state() (ok bool, detail string, since time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.refused, a.detail, a.since
}
