package partner

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/profile"
)

// builtinProfile is docs/partner-api.md written as a profile.
const builtinProfile = `name: builtin
base_url: %s
auth:
  kind: oauth2
  token_url: %s/oauth/token
  client_id: id
  client_secret: sec
defaults:
  upsert:
    method: PUT
    path: /v1/{entity}/{key}
    body: '{account: .account, version: .version, data: .data}'
    idempotency_header: Idempotency-Key
  delete:
    method: DELETE
    path: /v1/{entity}/{key}
    query:
      version: "{version}"
    idempotency_header: Idempotency-Key
`

// The built-in path and the same API through a profile, against
// partnersim over real HTTP: compare ns/op and allocs/op of the two.
func BenchmarkSendBuiltin(b *testing.B) { benchSend(b, false) }
func BenchmarkSendProfile(b *testing.B) { benchSend(b, true) }

func benchSend(b *testing.B, withProfile bool) {
	var f *fixture
	f = newFixture(b, func(c *Config) {
		if !withProfile {
			return
		}
		p, err := profile.Parse([]byte(fmt.Sprintf(builtinProfile, c.BaseURL, c.BaseURL)), "builtin.yaml")
		if err != nil {
			b.Fatal(err)
		}
		c.Profile = p
	})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e := ev("e"+strconv.Itoa(i), "main_registration", "k"+strconv.Itoa(i%1000), int64(i+1), `{"n":1,"name":"a b c"}`)
		if a := f.sink.Send(ctx, e); a.Class != delivery.Delivered {
			b.Fatalf("%+v", a)
		}
	}
}
