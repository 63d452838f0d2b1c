package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/deadarchive"
	"github.com/streamsync/streamsync/sinks/attemptlog"
	"github.com/streamsync/streamsync/sql"
)

// sqlParamFlags maps a query parameter (sql/params.go) to the flag that
// sets it and how the flag's value becomes the bound value.
var sqlParamFlags = []struct {
	param, flag string
	value       func(fs *pflag.FlagSet, now time.Time) any
}{
	{"since", "since", func(fs *pflag.FlagSet, now time.Time) any {
		d, _ := fs.GetDuration("since")
		return now.Add(-d).UTC()
	}},
	{"stuck_seconds", "stuck", func(fs *pflag.FlagSet, _ time.Time) any {
		d, _ := fs.GetDuration("stuck")
		return uint32(d.Seconds())
	}},
	{"account", "account", func(fs *pflag.FlagSet, _ time.Time) any {
		a, _ := fs.GetString("account")
		return a
	}},
	{"partner", "partner", func(fs *pflag.FlagSet, _ time.Time) any {
		p, _ := fs.GetString("partner")
		return p
	}},
}

func sqlFlags(fs *pflag.FlagSet) {
	fs.Duration("since", time.Hour, "rows in this past window (the files' own default: the last hour)")
	fs.Duration("stuck", 5*time.Minute, "failed_chains: a chain waiting longer than this is stuck")
	fs.String("account", "", "failed_chains: only this account's chains (default every account)")
	fs.String("partner", "", "only this partner's rows (default every partner's, each named in the partner column)")
}

// runSQL is `streamsync sql [NAME]`: without a name it lists the analysts'
// queries of sql/ and their parameters; with one it runs that query against
// the attempt log, binding the parameters given as flags on the client side.
func runSQL(ctx context.Context, e *env) error {
	name := e.fs.Arg(0)
	if name == "" {
		return listSQL(e)
	}
	params, err := sql.Params(name)
	if err != nil {
		return err
	}
	values := map[string]any{}
	now := time.Now()
	for _, p := range sqlParamFlags {
		if !e.fs.Changed(p.flag) {
			continue // the file's inline default
		}
		takes := false
		for _, q := range params {
			takes = takes || q.Name == p.param
		}
		if !takes {
			return fmt.Errorf("sql %s: takes no --%s (its parameters: %s)", name, p.flag, flagsOf(params))
		}
		values[p.param] = p.value(e.fs, now)
	}
	ch := e.cfg.ClickHouse
	if ch.Addr == "" {
		return fmt.Errorf("clickhouse.addr: required for sql (the attempt log is off)")
	}
	conn, err := openAttemptLog(ctx, ch, e.cfg.Sink.PartnerName)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := deadarchive.EnsureSchema(ctx, conn, ch.Database); err != nil { // archived_dead_letters reads it
		return fmt.Errorf("clickhouse.addr %s: %w", ch.Addr, err)
	}
	ans, err := attemptlog.RunQuery(ctx, conn, ch.Database, name, values)
	if err != nil {
		return fmt.Errorf("clickhouse.addr %s: %w", ch.Addr, err)
	}
	if e.format == "json" {
		rows := make([]map[string]any, 0, len(ans.Rows))
		for _, r := range ans.Rows {
			m := make(map[string]any, len(r))
			for i, c := range ans.Columns {
				m[c] = r[i]
			}
			rows = append(rows, m)
		}
		return json.NewEncoder(e.out).Encode(map[string]any{"query": name, "rows": rows})
	}
	tw := newTable(e.out)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(ans.Columns, "\t")))
	for _, r := range ans.Rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = cell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if len(ans.Rows) == 0 {
		fmt.Fprintln(tw, "(no rows)")
	}
	return tw.Flush()
}

func flagsOf(params []sql.Param) string {
	var out []string
	for _, p := range params {
		for _, f := range sqlParamFlags {
			if f.param == p.Name {
				out = append(out, "--"+f.flag)
			}
		}
	}
	return strings.Join(out, ", ")
}

func listSQL(e *env) error {
	type query struct {
		Name     string   `json:"name"`
		Question string   `json:"question"`
		Flags    []string `json:"flags"`
	}
	var list []query
	for _, n := range sql.Names() {
		params, err := sql.Params(n)
		if err != nil {
			return err
		}
		list = append(list, query{Name: n, Question: sql.Question(n), Flags: strings.Split(flagsOf(params), ", ")})
	}
	if e.format == "json" {
		return json.NewEncoder(e.out).Encode(map[string]any{"queries": list})
	}
	tw := newTable(e.out)
	fmt.Fprintln(tw, "QUERY\tFLAGS\tQUESTION")
	for _, q := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", q.Name, strings.Join(q.Flags, " "), q.Question)
	}
	fmt.Fprintln(tw, "\nrun one: streamsync sql NAME [--since 6h] …; the files in sql/ also run as they are in clickhouse-client (the last hour)")
	return tw.Flush()
}
