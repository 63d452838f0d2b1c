package attemptlog

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/sql"
)

// sealedUntilParam is the parameter of sql/latency_per_minute.sql that
// RunQuery binds itself (SealedUntil), never taken from the caller.
const sealedUntilParam = "sealed_until"

// sealedUntilSQL finds the first whole minute of the window whose count in
// calls_per_minute differs from the count its latest answer in
// latency_minutes was computed with (or that has none), for one partner or
// all; 2100-01-01 when every counted minute is answered. %[1]s is the
// database, %[2]s the window's start, %[3]s the partner (” for all).
const sealedUntilSQL = "SELECT if(count() = 0, toDateTime('2100-01-01 00:00:00', 'UTC'), min(minute))\nFROM (\n" +
	"    SELECT minute, partner, sum(rows) AS counted FROM `%[1]s`.`" + CallsPerMinuteTable + "`\n" +
	"    WHERE minute >= %[2]s AND (%[3]s = '' OR partner = %[3]s)\n    GROUP BY minute, partner\n" +
	") ANY LEFT JOIN (\n" +
	"    SELECT minute, partner, max(inserted) AS answered FROM `%[1]s`.`" + LatencyMinutesTable + "`\n" +
	"    WHERE minute >= %[2]s AND (%[3]s = '' OR partner = %[3]s)\n    GROUP BY minute, partner\n" +
	") USING (minute, partner)\nWHERE answered != counted"

// SealedUntil is where sql/latency_per_minute.sql stops taking answered
// minutes from latency_minutes and computes from calls: the first whole
// minute of the window (values bind since and partner as in RunQuery; those
// not given take the file's defaults) that is unanswered or changed since it
// was answered. Worked out once per question, so that both halves of the
// answer split the window at the same minute. Until calls_per_minute has been
// filled from an older attempts table (its _filled marker), it is the Unix
// epoch: every minute from calls, since one not counted yet would be in
// neither half. Errors are ClickHouse's, wrapped.
func SealedUntil(ctx context.Context, conn driver.Conn, database string, values map[string]any) (time.Time, error) {
	filled := false
	for _, marker := range []string{CallsPerMinuteTable + "_filled", CallsPerMinuteTable + LocalSuffix + "_filled"} {
		ok, err := tableExists(ctx, conn, database, marker)
		if err != nil {
			return time.Time{}, fmt.Errorf("latency_per_minute: %w", err)
		}
		filled = filled || ok
	}
	if !filled {
		return time.Unix(0, 0).UTC(), nil
	}
	expr, args, err := boundParams("latency_per_minute", values, "since", "partner")
	if err != nil {
		return time.Time{}, err
	}
	var until time.Time
	q := fmt.Sprintf(sealedUntilSQL, database, expr["since"], expr["partner"])
	if err := conn.QueryRow(ctx, q, args...).Scan(&until); err != nil {
		return time.Time{}, fmt.Errorf("latency_per_minute: the minutes answered: %w", err)
	}
	return until.UTC(), nil
}

// boundParams returns, for each of names, the SQL a query helper puts in
// its place — @name when values holds it (args binds those), else
// question's inline default — so that a helper query reads the same window
// as the question.
func boundParams(question string, values map[string]any, names ...string) (map[string]string, []any, error) {
	params, err := sql.Params(question)
	if err != nil {
		return nil, nil, err
	}
	expr := map[string]string{}
	var args []any
	for _, name := range names {
		if v, ok := values[name]; ok {
			expr[name] = "@" + name
			args = append(args, clickhouse.Named(name, v))
			continue
		}
		i := slices.IndexFunc(params, func(p sql.Param) bool { return p.Name == name })
		if i < 0 {
			return nil, nil, fmt.Errorf("sql/%s.sql takes no @%s", question, name)
		}
		expr[name] = params[i].Default
	}
	return expr, args, nil
}
