package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/streamsync/streamsync/internal/cutproxy"
)

// attempts is the attempt log of one fault's run: a database of its own on
// the suite's ClickHouse, which streamsync reaches through proxy.
type attempts struct {
	db    string
	conn  driver.Conn // straight to the server, for the suite's questions
	proxy *cutproxy.Proxy
}

func newAttempts(ctx context.Context, cfg config) (*attempts, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{cfg.clickhouse}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	proxy, err := cutproxy.New(cfg.clickhouse)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &attempts{db: fmt.Sprintf("chaos_%d", time.Now().UnixNano()), conn: conn, proxy: proxy}, nil
}

// rows is how many rows attempts holds, and how many distinct row_ids.
func (a *attempts) rows(ctx context.Context) (n, distinct uint64, err error) {
	err = a.conn.QueryRow(ctx, "SELECT count(), uniqExact(row_id) FROM `"+a.db+"`.attempts").Scan(&n, &distinct)
	return n, distinct, err
}

// deliveredEvents is how many distinct events attempts holds a delivered
// step for.
func (a *attempts) deliveredEvents(ctx context.Context) (uint64, error) {
	var n uint64
	err := a.conn.QueryRow(ctx, "SELECT uniqExact(event_id) FROM `"+a.db+"`.attempts WHERE step = 'delivered'").Scan(&n)
	return n, err
}

// held says what the table holds once the export has settled (the same
// count twice, 2 s apart, within 120 s: a slow link's backlog drains
// first), and how many distinct events it holds a delivered step for.
func (a *attempts) held(ctx context.Context) (string, uint64) {
	var last uint64 = 1<<64 - 1
	var n, d uint64
	var err error
	waitFor(ctx, 120*time.Second, func() bool {
		prev := last
		n, d, err = a.rows(ctx)
		last = n
		if err != nil || n != prev {
			sleep(ctx, 2*time.Second)
			return false
		}
		return true
	})
	if err != nil {
		return "attempts: " + err.Error(), 0
	}
	delivered, err := a.deliveredEvents(ctx)
	if err != nil {
		return "attempts: " + err.Error(), 0
	}
	return fmt.Sprintf("attempts holds %s rows, %s distinct", num(int(n)), num(int(d))), delivered
}

func (a *attempts) close() {
	_ = a.conn.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+a.db+"`")
	a.conn.Close()
	a.proxy.Close()
}

// cutInsertAnswers cuts, three times 2 s apart, the connection that
// carries ClickHouse's answer to an insert it has stored: the proxy is
// armed to cut the first chunk the server sends once attempts holds more
// rows than when it was armed.
func cutInsertAnswers(ctx context.Context, s *stage) (time.Time, string, error) {
	for i := range 3 {
		before, _, err := s.ch.rows(ctx)
		if err != nil {
			return time.Time{}, "", err
		}
		want := s.ch.proxy.Cuts() + 1
		s.ch.proxy.CutBeforeReply(func() bool {
			n, _, err := s.ch.rows(context.Background())
			return err == nil && n > before
		})
		if err := waitFor(ctx, 30*time.Second, func() bool { return s.ch.proxy.Cuts() >= want }); err != nil {
			return time.Time{}, "", fmt.Errorf("cut %d: no insert answered: %w", i+1, err)
		}
		sleep(ctx, 2*time.Second)
	}
	return time.Now(), "3 answers cut", nil
}
