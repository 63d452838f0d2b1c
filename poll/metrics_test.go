package poll_test

import (
	"testing"

	"github.com/streamsync/streamsync/profile"
)

// metric is the value of the one series of name (the sim partner's
// contact), 0 when it has none yet.
func metric(t *testing.T, s *setup, name string) float64 {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if m.GetGauge() != nil {
			return m.GetGauge().GetValue()
		}
		return m.GetCounter().GetValue()
	}
	return 0
}

func noSinceProfile(t *testing.T) (*profile.Profile, error) {
	t.Helper()
	return profile.Parse([]byte(`name: nosince
base_url: http://127.0.0.1:1
defaults:
  upsert: {method: PUT, path: "/v1/{entity}/{key}"}
  delete: {method: DELETE, path: "/v1/{entity}/{key}"}
  read:
    get: {path: "/v1/{entity}/{key}"}
    list: {path: "/v1/{entity}"}
    paging: {kind: cursor, param: cursor, next: .next_cursor}
`), "nosince")
}
