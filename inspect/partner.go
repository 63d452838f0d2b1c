package inspect

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// PartnerState is what one running process knows of the partner (contract
// docs/partner-faults.md, "Partner down"), as `streamsync status` and GET /api/v1/status show it.
type PartnerState struct {
	Instance string `json:"instance"`
	// Breaker is the circuit breaker: closed, half-open or open.
	Breaker string `json:"breaker"`
	// AuthOK is false while the token endpoint refuses the credentials;
	// AuthError is then its answer (status and the start of its body).
	AuthOK           bool   `json:"auth_ok"`
	AuthError        string `json:"auth_error,omitempty"`
	AuthRefusedSince int64  `json:"auth_refused_since_ms,omitempty"` // unix ms
	ClientID         string `json:"client_id,omitempty"`
	TokenURL         string `json:"token_url,omitempty"`
	UpdatedAt        int64  `json:"updated_at_ms"` // unix ms
}

// PartnerStateTTL: an entry not refreshed for this long belongs to a
// process that is gone, and status leaves it out.
const PartnerStateTTL = time.Minute

// partnerStates decodes the fresh entries of the Partner hash, by instance.
func partnerStates(m map[string]string, now time.Time) []PartnerState {
	out := []PartnerState{}
	for _, v := range m {
		var st PartnerState
		if json.Unmarshal([]byte(v), &st) != nil || now.Sub(time.UnixMilli(st.UpdatedAt)) > PartnerStateTTL {
			continue
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b PartnerState) int { return strings.Compare(a.Instance, b.Instance) })
	return out
}
