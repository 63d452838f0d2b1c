package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// StoryConfig shapes a conference-registration story: accounts (organisers)
// with main registrations and their sub registrations, arriving out of
// order, updated again and again, with echoes from the partner and a few
// malformed entries.
type StoryConfig struct {
	Seed     uint64
	Accounts int
	// Events is about how many entries the story has in all.
	Events int
	// SubsPerMain is how many sub registrations a main one has (2).
	SubsPerMain int
	// EchoShare and MalformedShare are shares of the entries (0.03, 0.005);
	// a negative EchoShare means no echoes (a story sent through the HTTP
	// ingest, which refuses a partner's origin: docs/security.md).
	EchoShare      float64
	MalformedShare float64
	// DeleteShare is the share of sub registrations deleted at the end (0.05).
	DeleteShare float64
	// PartnerName is the origin of echoes ("partner").
	PartnerName string
	// BaseVersion is the first version (a unix ms); 1.7e12 when 0.
	BaseVersion int64
}

func (c *StoryConfig) setDefaults() {
	if c.Accounts <= 0 {
		c.Accounts = 10
	}
	if c.Events <= 0 {
		c.Events = 100
	}
	if c.SubsPerMain <= 0 {
		c.SubsPerMain = 2
	}
	if c.EchoShare == 0 {
		c.EchoShare = 0.03
	}
	if c.MalformedShare == 0 {
		c.MalformedShare = 0.005
	}
	if c.DeleteShare == 0 {
		c.DeleteShare = 0.05
	}
	if c.PartnerName == "" {
		c.PartnerName = "partner"
	}
	if c.BaseVersion == 0 {
		c.BaseVersion = 1_700_000_000_000
	}
}

// Story makes the entries. The same config gives the same story.
func Story(c StoryConfig) []Entry {
	c.setDefaults()
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed+1))
	perRecord := 3 // updates per record on average
	records := max(1, c.Events/perRecord)
	mains := max(c.Accounts, records/(1+c.SubsPerMain))
	var out []Entry
	seq := 0
	names := []string{"Li Lei", "Han Meimei", "Ada Okafor", "Jonas Berg", "Priya Nair", "Mateo Ruiz", "Yuki Sato", "Amara Diallo"}
	byAccount := make([][]Entry, c.Accounts)
	version := c.BaseVersion
	mk := func(account int, entity, key string, data map[string]any, parent []string) Entry {
		seq++
		version++
		b, _ := json.Marshal(data)
		f := []string{"id", fmt.Sprintf("evt-%d-%d", c.Seed, seq), "account", "acc-" + strconv.Itoa(account), "entity", entity, "key", key,
			"op", "upsert", "version", strconv.FormatInt(version, 10)}
		f = append(f, parent...)
		f = append(f, "origin", "crm", "data", string(b))
		return Entry{Fields: f, Kind: "event"}
	}
	for m := 0; m < mains; m++ {
		account := m % c.Accounts
		mkey := fmt.Sprintf("m-%d-%d", c.Seed, m)
		var recs [][]Entry
		var mainUpdates []Entry
		for u := 0; u < 1+rng.IntN(perRecord); u++ {
			mainUpdates = append(mainUpdates, mk(account, "main_registration", mkey,
				map[string]any{"name": names[rng.IntN(len(names))], "tickets": 1 + rng.IntN(4), "rev": u}, nil))
		}
		recs = append(recs, mainUpdates)
		for s := 0; s < c.SubsPerMain; s++ {
			skey := fmt.Sprintf("s-%d-%d-%d", c.Seed, m, s)
			var subs []Entry
			for u := 0; u < 1+rng.IntN(perRecord); u++ {
				subs = append(subs, mk(account, "sub_registration", skey,
					map[string]any{"seat": fmt.Sprintf("%c%d", 'A'+rng.IntN(8), 1+rng.IntN(30)), "meal": []string{"veg", "fish", "meat"}[rng.IntN(3)], "rev": u},
					[]string{"parent_entity", "main_registration", "parent_key", mkey}))
			}
			if rng.Float64() < c.DeleteShare {
				seq++
				version++
				subs = append(subs, Entry{Kind: "event", Fields: []string{"id", fmt.Sprintf("evt-%d-%d", c.Seed, seq), "account", "acc-" + strconv.Itoa(account),
					"entity", "sub_registration", "key", skey, "op", "delete", "version", strconv.FormatInt(version, 10)}})
			}
			recs = append(recs, subs)
		}
		// Children often come first: the records of one main registration go
		// out in a shuffled order, each record's own updates in order.
		rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
		for _, r := range recs {
			for i, e := range r {
				byAccount[account] = append(byAccount[account], e)
				// An echo of a version that is not the last: the partner
				// telling us what it already has.
				if i < len(r)-1 && e.Get("op") == "upsert" && rng.Float64() < c.EchoShare*float64(perRecord) {
					echo := Entry{Kind: "echo", Fields: append([]string(nil), e.Fields...)}
					seq++
					setField(echo.Fields, "id", fmt.Sprintf("evt-%d-%d", c.Seed, seq))
					setField(echo.Fields, "origin", c.PartnerName)
					byAccount[account] = append(byAccount[account], echo)
				}
			}
		}
	}
	// Interleave the accounts, keeping each account's order.
	pos := make([]int, c.Accounts)
	for left := true; left; {
		left = false
		for a := range byAccount {
			if pos[a] < len(byAccount[a]) {
				n := 1 + rng.IntN(3)
				for k := 0; k < n && pos[a] < len(byAccount[a]); k++ {
					out = append(out, byAccount[a][pos[a]])
					pos[a]++
				}
				left = true
			}
		}
	}
	// A few malformed entries, anywhere.
	bad := int(float64(len(out)) * c.MalformedShare)
	at := map[int][]Entry{}
	for i := 0; i < bad; i++ {
		seq++
		id := fmt.Sprintf("evt-%d-%d", c.Seed, seq)
		variants := [][]string{
			{"id", id, "account", "acc-0", "entity", "main_registration", "key", "m-x", "op", "upsert", "version", "yesterday", "data", "{}"},
			{"id", id, "account", "acc-0", "entity", "Main Registration", "key", "m-x", "op", "upsert", "version", "1", "data", "{}"},
			{"id", id, "account", "acc-0", "entity", "main_registration", "key", "m-x", "op", "upsert", "version", "1", "data", "[not json"},
			{"id", id, "account", "acc-0", "entity", "sub_registration", "key", "s-x", "op", "upsert", "version", "1", "data", "{}", "parent_key", "m-0"},
			{"id", id, "op", "merge"},
		}
		p := rng.IntN(len(out) + 1)
		at[p] = append(at[p], Entry{Kind: "malformed", Fields: variants[rng.IntN(len(variants))]})
	}
	if bad > 0 {
		withBad := make([]Entry, 0, len(out)+bad)
		for i := 0; i <= len(out); i++ {
			withBad = append(withBad, at[i]...)
			if i < len(out) {
				withBad = append(withBad, out[i])
			}
		}
		out = withBad
	}
	return out
}

func setField(f []string, name, value string) {
	for i := 0; i+1 < len(f); i += 2 {
		if f[i] == name {
			f[i+1] = value
			return
		}
	}
}

// Record is a record's final state as the partner should hold it.
type Record struct {
	Version int64
	Data    string // compact JSON; empty when deleted
	Deleted bool
}

// Expected is the partner's state once every entry of the story has been
// handled: per entity/key, the newest version among our own valid events.
func Expected(entries []Entry) map[string]Record {
	want := map[string]Record{}
	for _, e := range entries {
		if e.Kind != "event" {
			continue
		}
		v, _ := strconv.ParseInt(e.Get("version"), 10, 64)
		k := e.Get("entity") + "/" + e.Get("key")
		if cur, ok := want[k]; ok && cur.Version >= v {
			continue
		}
		if e.Get("op") == "delete" {
			want[k] = Record{Version: v, Deleted: true}
		} else {
			want[k] = Record{Version: v, Data: e.Get("data")}
		}
	}
	return want
}
