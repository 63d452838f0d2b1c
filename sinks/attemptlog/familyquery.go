package attemptlog

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Family is a chain with the children that waited on it, at one partner
// (docs/operations.md "A chain's family").
type Family struct {
	Partner string `json:"partner"`
	// Parent is the chain named, with every step.
	Parent Chain `json:"parent"`
	// Children are the chains of the parent's record's children at the
	// partner (parent_entity/parent_key equal to its entity/key) that
	// waited on it or were dead-lettered for it, by the rule of the
	// failed-chains list's stranded column (stranded): still parked,
	// whenever they parked; dead-lettered for the parent, the error naming
	// its event or, naming none, the dead step at or after the parent's
	// first; or parked and then moved on (released, delivered), their last
	// step at or after the parent's first. Each with every step, oldest
	// child first. Parent.Stranded counts the first two kinds, as the
	// list does (sql/failed_chains.sql).
	Children []Chain `json:"children"`
	// Timeline is every step of the parent and the children, in time order
	// (ts, ts_ms, row_id), a copied row (same row_id) once.
	Timeline []FamilyStep `json:"timeline"`
	// Truncated reports that the family had more than MaxFamilyChildren
	// children or maxTimelineRows steps and only those were read.
	Truncated bool `json:"truncated"`
}

// FamilyStep is one step of a family's timeline and whose it is.
type FamilyStep struct {
	Step
	// Role is "parent" or "child".
	Role    string `json:"role"`
	ChainID string `json:"chain_id"`
	Entity  string `json:"entity"`
	Key     string `json:"key"`
}

// MaxFamilyChildren bounds the child chains one Family call reads per
// partner.
const MaxFamilyChildren = 500

// FindFamily returns the family of chain id (its first event's id) at each
// partner it went to, or at partner only when not empty; none when the
// attempt log has no such chain. The chain is found by its id in
// chain_index, its record's children in chain_children, and every row is
// read from attempts by (account, chain_id), its sort key's prefix. A
// partner that is not a partner name is an error.
func FindFamily(ctx context.Context, conn driver.Conn, database, id, partner string) ([]Family, error) {
	if partner != "" {
		if err := CheckPartner(partner); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(id) == "" {
		return nil, ErrNoQuery
	}
	type head struct{ partner, account, entity, key string }
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT partner, account, max(entity), max(key) FROM `%s`.`%s` WHERE chain_id = @id AND (@partner = '' OR partner = @partner) GROUP BY partner, account ORDER BY partner, account",
		database, ChainIndexTable), clickhouse.Named("id", id), clickhouse.Named("partner", partner))
	if err != nil {
		return nil, fmt.Errorf("chain family %s: %w", id, err)
	}
	var heads []head
	for rows.Next() {
		var h head
		if err := rows.Scan(&h.partner, &h.account, &h.entity, &h.key); err != nil {
			rows.Close()
			return nil, fmt.Errorf("chain family %s: %w", id, err)
		}
		heads = append(heads, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chain family %s: %w", id, err)
	}
	var out []Family
	for _, h := range heads {
		f, err := familyAt(ctx, conn, database, id, h.partner, h.account, h.entity, h.key)
		if err != nil {
			return nil, err
		}
		if f != nil {
			out = append(out, *f)
		}
	}
	return out, nil
}

// familyAt reads one partner's family of chain id.
func familyAt(ctx context.Context, conn driver.Conn, database, id, partner, account, entity, key string) (*Family, error) {
	db := "`" + database + "`"
	// The children's chains from chain_children, then the parent's and
	// theirs from attempts, both by its sort key (account, chain_id).
	stmt := fmt.Sprintf(`SELECT account, chain_id, entity, key, ts, ts_ms, step, attempt, http_status, latency_us, error, stream_id, instance, row_id
FROM %[1]s.%[2]s
PREWHERE (account, chain_id) IN (
    SELECT account, chain_id FROM (
        SELECT account, chain_id FROM %[1]s.%[3]s
        WHERE partner = @partner AND parent_entity = @entity AND parent_key = @key AND @entity != ''
        GROUP BY account, chain_id
        ORDER BY min(last_ts)
        LIMIT %[4]d
        UNION ALL
        SELECT @account AS account, @id AS chain_id))
WHERE partner = @partner
ORDER BY ts, ts_ms, row_id
LIMIT %[5]d`, db, Table, ChainChildrenTable, MaxFamilyChildren+1, maxTimelineRows+1)
	rows, err := conn.Query(ctx, stmt, clickhouse.Named("partner", partner), clickhouse.Named("entity", entity), clickhouse.Named("key", key),
		clickhouse.Named("account", account), clickhouse.Named("id", id))
	if err != nil {
		return nil, fmt.Errorf("chain family %s at %s: %w", id, partner, err)
	}
	defer rows.Close()
	f := &Family{Partner: partner}
	type member struct{ chain Chain }
	type placed struct {
		m    *member
		step FamilyStep
	}
	var all []placed                   // every step, in (ts, ts_ms, row_id) order
	members := map[[2]string]*member{} // account, chain_id
	seen := map[[3]string]bool{}       // account, chain_id, row_id
	var order [][2]string
	read := 0
	for rows.Next() {
		if read++; read > maxTimelineRows {
			f.Truncated = true
			break
		}
		var acc, chain, ent, k, rowID string
		var ts time.Time
		var ms uint16
		var st Step
		if err := rows.Scan(&acc, &chain, &ent, &k, &ts, &ms, &st.Step, &st.Attempt, &st.HTTPStatus, &st.LatencyUS, &st.Error, &st.StreamID, &st.Instance, &rowID); err != nil {
			return nil, fmt.Errorf("chain family %s at %s: %w", id, partner, err)
		}
		if seen[[3]string{acc, chain, rowID}] {
			continue
		}
		seen[[3]string{acc, chain, rowID}] = true
		st.TS = ts.Add(time.Duration(ms) * time.Millisecond).UTC()
		mk := [2]string{acc, chain}
		m := members[mk]
		if m == nil {
			m = &member{chain: Chain{Partner: partner, ChainID: chain, Account: acc}}
			members[mk] = m
			order = append(order, mk)
		}
		if m.chain.Entity == "" { // an invalid event's first row may lack them
			m.chain.Entity, m.chain.Key = ent, k
		}
		m.chain.Steps = append(m.chain.Steps, st)
		m.chain.LastStep, m.chain.LastTS = st.Step, st.TS
		all = append(all, placed{m, FamilyStep{Step: st, ChainID: chain}})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chain family %s at %s: %w", id, partner, err)
	}
	parent := members[[2]string{account, id}]
	if parent == nil {
		return nil, nil // its rows are gone (retention) while the index kept it
	}
	first := parent.chain.Steps[0].TS
	f.Parent = parent.chain
	keep := map[*member]bool{parent: true}
	children := 0
	for _, mk := range order {
		m := members[mk]
		if m == parent {
			continue
		}
		if children++; children > MaxFamilyChildren {
			f.Truncated = true
			break
		}
		in, stranded := ofParent(m.chain, id, first)
		if stranded {
			f.Parent.Stranded++
		}
		if in {
			f.Children = append(f.Children, m.chain)
			keep[m] = true
		}
	}
	for _, p := range all {
		if !keep[p.m] {
			continue
		}
		s := p.step
		s.Role, s.Entity, s.Key = "child", p.m.chain.Entity, p.m.chain.Key
		if p.m == parent {
			s.Role = "parent"
		}
		f.Timeline = append(f.Timeline, s)
	}
	if f.Children == nil {
		f.Children = []Chain{}
	}
	return f, nil
}

// deadFor finds the parent's event id in a child's dead-letter error
// ("parent contact/k was dead-lettered (event ID)", handlers/gate.go).
var deadFor = regexp.MustCompile(`\(event ([^)]*)\)$`)

// ofParent reports whether child chain c is of the family of parent chain
// id whose first step was at first, and whether it is stranded by it (the
// stranded column of sql/failed_chains.sql): its last step parked, whenever
// it parked (a child that parked before the parent's first step waits on
// it all the same); or dead for its parent (error "parent …") and the error
// naming the parent's event, or naming none and the dead step at or after
// the parent's first (to the second, as attempts' ts). A child that parked
// and moved on is of the family, not stranded, when its last step is at or
// after the parent's first.
func ofParent(c Chain, id string, first time.Time) (in, stranded bool) {
	last := c.Steps[len(c.Steps)-1]
	after := !c.LastTS.Before(first.Truncate(time.Second))
	switch {
	case last.Step == "parked":
		return true, true
	case last.Step == "dead" && strings.HasPrefix(last.Error, "parent "):
		if m := deadFor.FindStringSubmatch(last.Error); m != nil {
			return m[1] == id, m[1] == id
		}
		return after, after
	}
	for _, s := range c.Steps {
		if s.Step == "parked" {
			return after, false
		}
	}
	return false, false
}

// Family runs FindFamily on the source's connection and database.
func (c ChainSource) Family(ctx context.Context, id, partner string) ([]Family, error) {
	return FindFamily(ctx, c.Conn, c.Database, id, partner)
}
