package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/streamsync/streamsync/internal/httpserve"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "outbox" && os.Args[1] != "prepared") {
		fmt.Fprintln(os.Stderr, "usage: producer outbox|prepared [--dsn URL] [--ingest URL] [--token TOKEN] [--check-addr HOST:PORT] [--n N]")
		os.Exit(2)
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	dsn := fs.String("dsn", "postgres://postgres@127.0.0.1:15432/postgres?sslmode=disable", "PostgreSQL URL of the business database")
	ingest := fs.String("ingest", "http://127.0.0.1:8092", "streamsync's HTTP ingest")
	token := fs.String("token", os.Getenv("STREAMSYNC_INGEST_TOKEN"), "this producer's token in ingest.tokens (default $STREAMSYNC_INGEST_TOKEN; none for an ingest without tokens)")
	checkAddr := fs.String("check-addr", "127.0.0.1:8093", "where the check-back endpoint listens (prepared)")
	n := fs.Int("n", 10, "orders to write")
	_ = fs.Parse(os.Args[2:])

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, *dsn)
	if err != nil {
		fail(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS orders (
		id BIGSERIAL PRIMARY KEY, event_id TEXT UNIQUE NOT NULL, account TEXT NOT NULL, total_cents BIGINT NOT NULL)`); err != nil {
		fail(err)
	}
	switch mode {
	case "outbox":
		for i := range *n {
			if err := placeOrderOutbox(ctx, pool, order(i)); err != nil {
				fail(err)
			}
		}
		slog.Info("orders written with their outbox rows", "count", *n)
	case "prepared":
		if err := serveCheck(pool, *checkAddr); err != nil {
			fail(err)
		}
		p := &preparer{ingest: *ingest, token: *token, client: &http.Client{Timeout: 10 * time.Second}}
		for i := range *n {
			if err := p.placeOrder(ctx, pool, order(i)); err != nil {
				fail(err)
			}
		}
		slog.Info("orders written and confirmed; the check-back endpoint keeps answering", "count", *n, "check", "http://"+*checkAddr+"/check")
		select {} // keep answering check-backs
	}
}

// Order is the business record; its change event is what streamsync delivers.
type Order struct {
	EventID    string
	Account    string
	TotalCents int64
}

func order(i int) Order {
	return Order{EventID: fmt.Sprintf("order-%d-%d", time.Now().UnixNano(), i), Account: fmt.Sprintf("acc-%d", i%3), TotalCents: int64(100 * (i + 1))}
}

// event is the change event, the object streamsync's HTTP ingest takes.
func (o Order) event() map[string]any {
	return map[string]any{
		"id": o.EventID, "account": o.Account, "entity": "order", "key": o.EventID, "op": "upsert",
		"version": time.Now().UnixMilli(), "data": map[string]any{"total_cents": o.TotalCents},
	}
}

// placeOrderOutbox writes the order and its event in one transaction: both
// commit, or neither does. streamsync relays the outbox row after the commit.
func placeOrderOutbox(ctx context.Context, pool *pgxpool.Pool, o Order) error {
	ev, err := json.Marshal(o.event())
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO orders (event_id, account, total_cents) VALUES ($1, $2, $3)`, o.EventID, o.Account, o.TotalCents); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO streamsync_outbox (event) VALUES ($1)`, ev)
		return err
	})
}

type preparer struct {
	ingest string
	token  string // sent as "Authorization: Bearer <token>" when set
	client *http.Client
}

// placeOrder is the two-phase dance: prepare the event, write the order,
// confirm the event (or cancel it when the write failed). A crash after
// prepare is settled by streamsync's check-back (serveCheck).
func (p *preparer) placeOrder(ctx context.Context, pool *pgxpool.Pool, o Order) error {
	if err := p.post(ctx, "/v1/events?prepare=1", o.event()); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	_, werr := pool.Exec(ctx, `INSERT INTO orders (event_id, account, total_cents) VALUES ($1, $2, $3)`, o.EventID, o.Account, o.TotalCents)
	ids := map[string]any{"ids": []string{o.EventID}}
	if werr != nil {
		_ = p.post(ctx, "/v1/events/cancel", ids) // if this fails too, the check-back answers rollback
		return fmt.Errorf("write order: %w", werr)
	}
	// If this confirm is lost, the check-back answers commit: the order is there.
	return p.post(ctx, "/v1/events/confirm", ids)
}

func (p *preparer) post(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.ingest+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %d: %s", path, resp.StatusCode, answer)
	}
	return nil
}

// serveCheck answers streamsync's check-back, GET /check?id=<event id>:
// commit when the order was written, rollback when it was not. By the time
// streamsync asks (ingest.prepare_timeout after prepare) the write has
// committed or failed; a producer whose writes may take longer answers
// unknown while one is still in flight. streamsync sends no credential to
// it, so it listens on loopback only (docs/security.md): from elsewhere,
// put a proxy with authentication in front of it.
func serveCheck(pool *pgxpool.Pool, addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /check", func(w http.ResponseWriter, r *http.Request) {
		status := "rollback"
		var one int
		err := pool.QueryRow(r.Context(), `SELECT 1 FROM orders WHERE event_id = $1`, r.URL.Query().Get("id")).Scan(&one)
		switch {
		case err == nil:
			status = "commit"
		case !errors.Is(err, pgx.ErrNoRows):
			status = "unknown" // the database is away: ask again later
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": status})
	})
	return httpserve.NewServer(httpserve.Config{Setting: "--check-addr", Addr: addr, Handler: mux,
		LoopbackOnly: "up a proxy with authentication in front of it", Logger: slog.Default()}).Start()
}

func fail(err error) {
	slog.Error("producer", "err", err)
	os.Exit(1)
}
