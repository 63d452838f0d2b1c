package outbox

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// quoteTable quotes a [schema.]name for SQL.
func quoteTable(table string) string {
	return pgx.Identifier(strings.Split(table, ".")).Sanitize()
}

// lockKey is the advisory lock of one table: the relaying instance holds it
// for the length of a batch's transaction.
func lockKey(table string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("streamsync outbox " + table))
	return int64(h.Sum64())
}

// EnsureTable creates the outbox table of docs/producers.md when it is missing:
// id BIGSERIAL PRIMARY KEY, event JSONB NOT NULL, created_at TIMESTAMPTZ NOT
// NULL DEFAULT now(). Producers write it with one plain INSERT:
//
//	INSERT INTO streamsync_outbox (event) VALUES ($1)
//
// An existing table is left as it is (the relay's database user then needs
// no right to create tables: SELECT, UPDATE (for FOR UPDATE) and DELETE on
// it are enough).
func EnsureTable(ctx context.Context, pool *pgxpool.Pool, table string) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, quoteTable(table)).Scan(&exists); err != nil {
		return fmt.Errorf("look for outbox table %s: %w", table, err)
	}
	if exists {
		return nil
	}
	q := `CREATE TABLE IF NOT EXISTS ` + quoteTable(table) + ` (
		id BIGSERIAL PRIMARY KEY,
		event JSONB NOT NULL,
		created_at TIMESTAMPTZ NOT NULL DEFAULT now())`
	if _, err := pool.Exec(ctx, q); err != nil {
		return fmt.Errorf("create outbox table %s: %w", table, err)
	}
	return nil
}
