package loadtest

import (
	"encoding/json"
	"fmt"
	"github.com/streamsync/streamsync/demo"
	"math/rand/v2"
	"strconv"
)

// UpsertsConfig shapes the plain work of the shared peer benchmark: N
// upserts over Accounts accounts, about three per record, no parents, echoes,
// deletes or malformed entries.
type UpsertsConfig struct {
	N        int
	Accounts int
	Seed     uint64
}

var upsertNames = []string{"Li Lei", "Han Meimei", "Ada Okafor", "Jonas Berg", "Priya Nair", "Mateo Ruiz", "Yuki Sato", "Amara Diallo"}

// Upserts makes the entries: docs/events.md fields id account entity key
// op=upsert version data, in that order. version is 1.7e12 + the entry's
// position, so within an account (and a record) stream order is version
// order and every event is deliverable: each ends delivered, none stale or
// unchanged (data carries the record's revision). Kind is "event" for all;
// the same config gives the same entries.
func Upserts(c UpsertsConfig) []demo.Entry {
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed+1))
	accounts := max(1, c.Accounts)
	perAccount := max(1, c.N/(3*accounts)) // records per account
	revs := map[string]int{}
	out := make([]demo.Entry, c.N)
	for i := range out {
		a, r := rng.IntN(accounts), rng.IntN(perAccount)
		entity := "main_registration"
		if r%2 == 1 {
			entity = "sub_registration"
		}
		key := fmt.Sprintf("r-%d-%d", a, r)
		rev := revs[entity+"/"+key]
		revs[entity+"/"+key] = rev + 1
		data, _ := json.Marshal(map[string]any{
			"name": upsertNames[rng.IntN(len(upsertNames))], "seat": fmt.Sprintf("%c%d", 'A'+rng.IntN(8), 1+rng.IntN(30)), "rev": rev,
		})
		out[i] = demo.Entry{Kind: "event", Fields: []string{
			"id", fmt.Sprintf("evt-%d-%d", c.Seed, i), "account", "acc-" + strconv.Itoa(a), "entity", entity, "key", key,
			"op", "upsert", "version", strconv.FormatInt(1_700_000_000_000+int64(i), 10), "data", string(data),
		}}
	}
	return out
}
