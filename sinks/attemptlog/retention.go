package attemptlog

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Retention of the attempt log (docs/operations.md, "Retention"): rows are
// removed a whole day at a time, by dropping the day's partition
// (PARTITION BY toYYYYMMDD(ts), schema.go). ALTER TABLE … DROP PARTITION
// works on ClickHouse 18.16, which has no TTL; it frees the disk at once
// and rewrites nothing, where a DELETE mutation would rewrite every part.
//
// On a current release a table TTL (TTL ts + INTERVAL n DAY, with
// ttl_only_drop_parts) could do the same inside the server. It is not set:
// it cannot be tested on the 18.16 the tests run on; a TTL stays in the
// table's definition, so a change of clickhouse.retention would need an
// ALTER … MODIFY TTL on every table, derived ones included, or the shorter
// of the two would silently win; and dropping partitions works on every
// release.

// MinRetention is the least retention other than 0 (keep every row): one
// day, a partition's span.
const MinRetention = 24 * time.Hour

// Partition is one day of one table of the attempt log.
type Partition struct {
	Table string
	// ID is the partition as system.parts names it: the day as YYYYMMDD.
	ID string
	// Day is the day's start, 00:00 UTC; the partition holds the rows
	// whose ts lies in [Day, Day+24h).
	Day time.Time
}

// dayID is a partition of toYYYYMMDD(ts): eight digits. Anything else (a
// table partitioned otherwise) is never dropped.
var dayID = regexp.MustCompile(`^[0-9]{8}$`)

// identRe is a database or table name that needs no quoting beyond
// backquotes.
var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// OldPartitions lists the active partitions of each of tables in database
// whose whole day lies before cutoff: the day of YYYYMMDD is old once
// YYYYMMDD+1 00:00 UTC is at or before cutoff, so the day the cutoff falls
// in is kept until it has passed entirely. Tables must all be partitioned
// by toYYYYMMDD of a UTC DateTime (the attempts table and, later, the
// tables derived from it, which are dropped by the same days); a partition
// that is not a day (YYYYMMDD) is left alone, and a table that does not
// exist has none. The list is ordered by day, then by the order of tables.
func OldPartitions(ctx context.Context, conn driver.Conn, database string, tables []string, cutoff time.Time) ([]Partition, error) {
	if err := checkIdents(database, tables); err != nil {
		return nil, err
	}
	byDay := map[string][]Partition{}
	var days []string
	for _, table := range tables {
		ids, err := partitionIDs(ctx, conn, database, table)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			day, ok := partitionDay(id)
			if !ok || day.Add(24*time.Hour).After(cutoff) {
				continue
			}
			if byDay[id] == nil {
				days = append(days, id)
			}
			byDay[id] = append(byDay[id], Partition{Table: table, ID: id, Day: day})
		}
	}
	slices.Sort(days)
	var out []Partition
	for _, d := range days {
		out = append(out, byDay[d]...)
	}
	return out, nil
}

// DropPartition drops one partition: ALTER TABLE database.table DROP
// PARTITION YYYYMMDD. Dropping a partition that is gone already is no
// error. The server refuses a partition larger than its
// max_partition_size_to_drop (50 GB by default): the error says so.
func DropPartition(ctx context.Context, conn driver.Conn, database string, p Partition) error {
	if err := checkIdents(database, []string{p.Table}); err != nil {
		return err
	}
	if !dayID.MatchString(p.ID) {
		return fmt.Errorf("drop partition %q of %s.%s: not a day (YYYYMMDD)", p.ID, database, p.Table)
	}
	// The key is a UInt32 (toYYYYMMDD), so the partition is the number; 18.16
	// knows this form (PARTITION ID '…' came later).
	q := fmt.Sprintf("ALTER TABLE `%s`.`%s` DROP PARTITION %s", database, p.Table, p.ID)
	if err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("drop partition %s of %s.%s: %w", p.ID, database, p.Table, err)
	}
	return nil
}

// DropOldPartitions drops, in each of tables, every partition
// OldPartitions lists, oldest day first, the day's partition of every
// table before the next day's. It returns the partitions dropped; on an
// error, those dropped before it (the rest stay, for the next pass).
// Several tables are one call so that the tables derived from the attempts
// table lose the same days as it does.
func DropOldPartitions(ctx context.Context, conn driver.Conn, database string, tables []string, cutoff time.Time) ([]Partition, error) {
	old, err := OldPartitions(ctx, conn, database, tables, cutoff)
	if err != nil {
		return nil, err
	}
	var dropped []Partition
	for _, p := range old {
		if err := DropPartition(ctx, conn, database, p); err != nil {
			return dropped, err
		}
		dropped = append(dropped, p)
	}
	return dropped, nil
}

// partitionIDs lists the partitions of a table that hold active parts.
func partitionIDs(ctx context.Context, conn driver.Conn, database, table string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT partition_id FROM system.parts WHERE active AND database = ? AND table = ?", database, table)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s.%s: %w", database, table, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list partitions of %s.%s: %w", database, table, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// partitionDay reads a YYYYMMDD partition as its day, 00:00 UTC.
func partitionDay(id string) (time.Time, bool) {
	if !dayID.MatchString(id) {
		return time.Time{}, false
	}
	d, err := time.ParseInLocation("20060102", id, time.UTC)
	return d, err == nil
}

func checkIdents(database string, tables []string) error {
	if !identRe.MatchString(database) {
		return fmt.Errorf("attempt log retention: database %q is not a plain identifier", database)
	}
	if len(tables) == 0 {
		return fmt.Errorf("attempt log retention: no tables")
	}
	for _, t := range tables {
		if !identRe.MatchString(t) {
			return fmt.Errorf("attempt log retention: table %q is not a plain identifier", t)
		}
	}
	return nil
}
