package deadarchive

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Store keeps archived dead letters. Archive returns nil only once every
// letter given is durably stored: the archiver removes them from Redis
// after that, and not before. Storing a letter again must not duplicate it.
type Store interface {
	Archive(ctx context.Context, letters []Letter) error
}

// ClickHouseStore archives into <Database>.dead_letters, creating the table
// on its first use.
type ClickHouseStore struct {
	conn     driver.Conn
	database string
	ready    atomic.Bool
}

// NewClickHouseStore archives through conn into database; it does not close
// conn.
func NewClickHouseStore(conn driver.Conn, database string) *ClickHouseStore {
	return &ClickHouseStore{conn: conn, database: database}
}

// Archive inserts letters in one batch (an explicit column list, as
// ClickHouse 18.16 needs); an error means none may be counted as stored.
func (s *ClickHouseStore) Archive(ctx context.Context, letters []Letter) error {
	if len(letters) == 0 {
		return nil
	}
	ictx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !s.ready.Load() {
		if err := EnsureSchema(ictx, s.conn, s.database); err != nil {
			return err
		}
		s.ready.Store(true)
	}
	if err := s.insert(ictx, letters); err != nil {
		s.ready.Store(false) // the table may have gone: look again next time
		return err
	}
	return nil
}

func (s *ClickHouseStore) insert(ctx context.Context, letters []Letter) error {
	batch, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO `%s`.`%s` (%s)", s.database, Table, columnList()))
	if err != nil {
		return fmt.Errorf("prepare insert into %s.%s: %w", s.database, Table, err)
	}
	for _, l := range letters {
		err := batch.Append(l.DeadAt, l.Stream, uint16(l.Shard), l.StreamID, l.EventID, l.Account, l.Entity, l.Key,
			l.Reason, l.Error, l.Attempts, l.Names, l.Values, l.ArchivedAt, l.Instance)
		if err != nil {
			_ = batch.Abort()
			return fmt.Errorf("append dead letter %s: %w", l.StreamID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d dead letters into %s.%s: %w", len(letters), s.database, Table, err)
	}
	return nil
}
