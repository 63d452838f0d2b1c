package profile

import (
	_ "embed"
	"fmt"
)

// builtIn is the built-in partner API (docs/partner-api.md) as a profile;
// examples/partners/streamsync.yaml is the same text for users to start
// from.
//
//go:embed builtin.yaml
var builtIn []byte

// BuiltInName is the built-in profile's name (sink.profile: streamsync).
const BuiltInName = "streamsync"

// BuiltIn is the built-in partner API as a profile, with opt applied: what
// `partner preview` shows when no profile file is configured. Delivery
// through the built-in API does not go through it.
func BuiltIn(opt Options) (*Profile, error) {
	if opt.BaseURL == "" {
		opt.BaseURL = "http://127.0.0.1:8081"
	}
	p, err := ParseWith(builtIn, BuiltInName, opt)
	if err != nil {
		return nil, fmt.Errorf("the built-in profile: %w", err)
	}
	return p, nil
}
