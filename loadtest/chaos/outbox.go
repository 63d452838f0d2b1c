package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// outboxTable is one fault's outbox table on the suite's PostgreSQL; a
// committed insert is the producer's acknowledgement.
type outboxTable struct {
	pool  *pgxpool.Pool
	table string
}

func newOutboxTable(ctx context.Context, dsn string) (*outboxTable, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	t := &outboxTable{pool: pool, table: fmt.Sprintf("chaos_outbox_%d", time.Now().UnixNano())}
	// The table of docs/producers.md.
	if _, err := pool.Exec(ctx, `CREATE TABLE `+t.table+` (id BIGSERIAL PRIMARY KEY, event JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		pool.Close()
		return nil, err
	}
	return t, nil
}

// insert commits one batch, a JSON array of events, a row each.
func (t *outboxTable) insert(batch []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := t.pool.Exec(ctx, `INSERT INTO `+t.table+` (event) SELECT jsonb_array_elements($1::jsonb)`, string(batch))
	return err
}

// left is how many rows the table still holds: the relay deletes a row
// once its event is in the stream.
func (t *outboxTable) left(ctx context.Context) (int, error) {
	var n int
	err := t.pool.QueryRow(ctx, `SELECT count(*) FROM `+t.table).Scan(&n)
	return n, err
}

func (t *outboxTable) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = t.pool.Exec(ctx, `DROP TABLE IF EXISTS `+t.table)
	t.pool.Close()
}

// restartPostgres: scripts/infra.sh down postgres (a fast shutdown: every
// session cut, the relay's transaction mid-batch among them), a second
// down, then up; over when it answers.
func restartPostgres(ctx context.Context, s *stage) (time.Time, string, error) {
	for _, what := range []string{"down", "up"} {
		cmd := exec.CommandContext(ctx, s.cfg.infra, what, "postgres")
		cmd.Env = append(os.Environ(), "STREAMSYNC_DEV_POSTGRES_PORT="+s.cfg.postgresPort)
		if out, err := cmd.CombinedOutput(); err != nil {
			return time.Time{}, "", fmt.Errorf("%s %s postgres: %w: %s", s.cfg.infra, what, err, out)
		}
		if what == "down" {
			sleep(ctx, time.Second)
		}
	}
	return time.Now(), "down 1 s", nil
}
