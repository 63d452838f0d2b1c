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
// NULL DEFAULT now(), with the commit-order stamp of EnsureCommitOrder.
// Producers write it with one plain INSERT:
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
	return EnsureCommitOrder(ctx, pool, table)
}

// HasCommitOrder reports whether table has the commit-order trigger of
// EnsureCommitOrder (and so its commit_seq column).
func HasCommitOrder(ctx context.Context, pool *pgxpool.Pool, table string) (bool, error) {
	var has bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2)`,
		quoteTable(table), triggerName(table)).Scan(&has)
	if err != nil {
		return false, fmt.Errorf("look for the commit-order trigger of %s: %w", table, err)
	}
	return has, nil
}

// triggerName is the commit-order trigger's name on table.
func triggerName(table string) string {
	return pgName(table[strings.IndexByte(table, '.')+1:] + "_commit_seq")
}

// pgName cuts a name to the 63 bytes PostgreSQL keeps of it (names are
// ASCII: Config.Validate).
func pgName(s string) string { return s[:min(len(s), 63)] }

// CommitOrderSQL is the DDL that gives table its commit-order stamp
// (docs/reliability.md, "The outbox under concurrency"): a column
// commit_seq, a sequence <name>_commit_seq, an index on (commit_seq NULLS
// FIRST, id), and a deferred constraint trigger that, when the producer's
// transaction commits, stamps each of its rows with the next value of the
// sequence. The trigger's function is SECURITY DEFINER, so producers need
// no right beyond INSERT. table is schema.name (Qualify): the function
// runs with search_path pg_catalog. Every statement may run again.
func CommitOrderSQL(table string) string {
	schema, name := "", table
	if i := strings.IndexByte(table, '.'); i >= 0 {
		schema, name = table[:i+1], table[i+1:]
	}
	ident := func(suffix string) string { return quoteTable(schema + pgName(name+suffix)) }
	t, seq, fn := quoteTable(table), ident("_commit_seq"), ident("_commit_seq")
	trg := pgx.Identifier{triggerName(table)}.Sanitize()
	idx := pgx.Identifier{pgName(name + "_commit_seq_idx")}.Sanitize()
	return `CREATE SEQUENCE IF NOT EXISTS ` + seq + `;
ALTER TABLE ` + t + ` ADD COLUMN IF NOT EXISTS commit_seq BIGINT;
CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + t + ` (commit_seq NULLS FIRST, id);
CREATE OR REPLACE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $f$
BEGIN
  UPDATE ` + t + ` SET commit_seq = nextval('` + seq + `') WHERE id = NEW.id;
  RETURN NULL;
END $f$;
DROP TRIGGER IF EXISTS ` + trg + ` ON ` + t + `;
CREATE CONSTRAINT TRIGGER ` + trg + ` AFTER INSERT ON ` + t + `
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ` + fn + `();`
}

// Qualify returns the existing table as schema.name, the schema being the
// one the search path finds it in when table names none.
func Qualify(ctx context.Context, pool *pgxpool.Pool, table string) (string, error) {
	if strings.Contains(table, ".") {
		return table, nil
	}
	var schema string
	err := pool.QueryRow(ctx, `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1)`, quoteTable(table)).Scan(&schema)
	if err != nil {
		return "", fmt.Errorf("look for outbox table %s: %w", table, err)
	}
	return schema + "." + table, nil
}

// EnsureCommitOrder runs CommitOrderSQL(table) in one transaction, under
// the table's advisory lock so that instances starting together do not
// race. It needs the table's owner (or a superuser); an error leaves the
// table as it was.
func EnsureCommitOrder(ctx context.Context, pool *pgxpool.Pool, table string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("add commit order to %s: %w", table, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(table)); err != nil {
		return fmt.Errorf("add commit order to %s: %w", table, err)
	}
	qualified, err := Qualify(ctx, pool, table)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, CommitOrderSQL(qualified)); err != nil {
		return fmt.Errorf("add commit order to %s: %w", table, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("add commit order to %s: %w", table, err)
	}
	return nil
}
