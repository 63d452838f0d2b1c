package ordered

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/redisretry"
	"github.com/streamsync/streamsync/internal/streams"
)

type readReq struct {
	n     int
	claim bool
	held  int // entries held when asked (for the Gate)
}

type readRes struct {
	msgs []redis.XMessage
	lost bool // the Gate took the stream away: drop what is not handed out
}

type result struct {
	msg  *message.Message
	key  string
	ack  bool
	wake bool // a nacked message whose delay is over
}

// scheduler owns all state of a subscription in one goroutine: which
// entries are held, which order keys have a message out, and what waits
// behind it.
type scheduler struct {
	s       *Subscriber
	stream  string
	acks    *acker
	out     chan *message.Message
	quit    <-chan struct{}               // the subscription ends: stop handing out
	queues  map[string][]*message.Message // behind the key's message in flight
	busy    map[string]bool
	held    map[string]struct{} // stream ids read and not yet acked
	results chan result
	reqs    chan readReq
	reads   chan readRes

	msgCtx    context.Context // parent of every message's context; cancelled when draining ends
	cancelMsg context.CancelFunc
	draining  bool
	inFlight  int
	full      bool          // counted in s.full
	lost      bool          // the Gate took the stream away: held entries are not ours to touch
	stopped   chan struct{} // closed when run returns
}

func newScheduler(s *Subscriber, stream string, acks *acker, out chan *message.Message, quit <-chan struct{}) *scheduler {
	ctx, cancel := context.WithCancel(context.Background())
	return &scheduler{
		s: s, stream: stream, acks: acks, out: out, quit: quit,
		queues:  map[string][]*message.Message{},
		busy:    map[string]bool{},
		held:    map[string]struct{}{},
		results: make(chan result, 1024),
		reqs:    make(chan readReq, 1),
		reads:   make(chan readRes, 1),
		msgCtx:  ctx, cancelMsg: cancel,
		stopped: make(chan struct{}),
	}
}

func (sc *scheduler) run(ctx context.Context) {
	readCtx, stopReader := context.WithCancel(ctx)
	readerDone := make(chan struct{})
	go func() { defer close(readerDone); sc.reader(readCtx) }()
	defer func() {
		stopReader()
		<-readerDone
		sc.cancelMsg()
		sc.setFull(false)
		close(sc.stopped)
		close(sc.out)
	}()

	cfg := sc.s.cfg
	claimT := time.NewTicker(cfg.ClaimInterval)
	defer claimT.Stop()
	touchT := time.NewTicker(max(cfg.ClaimMinIdle/3, time.Millisecond))
	defer touchT.Stop()
	reading, claimDue := false, false
	var drainDeadline <-chan time.Time

	for {
		sc.setFull(len(sc.held) >= cfg.MaxInFlight)
		if !sc.draining && !reading && len(sc.held) < cfg.MaxInFlight {
			sc.reqs <- readReq{n: min(cfg.Batch, cfg.MaxInFlight-len(sc.held)), claim: claimDue, held: len(sc.held)}
			reading, claimDue = true, false
		}
		if sc.draining && sc.inFlight == 0 {
			return
		}
		select {
		case <-ctx.Done():
			if drainDeadline == nil {
				sc.draining = true
				stopReader()
				drainDeadline = time.After(cfg.DrainTimeout)
			}
			ctx = context.Background() // keep draining results
		case <-drainDeadline:
			sc.s.log.Warn("messages still in flight at shutdown; they stay pending in Redis", "stream", sc.stream, "in_flight", sc.inFlight)
			return
		case rr := <-sc.reads:
			reading = false
			if rr.lost {
				sc.dropQueued()
			} else {
				if len(rr.msgs) > 0 {
					sc.lost = false
				}
				sc.add(rr.msgs)
			}
		case r := <-sc.results:
			sc.finish(r)
		case <-claimT.C:
			claimDue = true
		case <-touchT.C:
			sc.touch()
		}
	}
}

// setFull keeps the subscriber's count of full subscriptions.
func (sc *scheduler) setFull(full bool) {
	if full == sc.full {
		return
	}
	sc.full = full
	if full {
		sc.s.full.Add(1)
	} else {
		sc.s.full.Add(-1)
	}
}

// add takes read or claimed entries into the held set and hands out those
// whose key has nothing in flight.
func (sc *scheduler) add(msgs []redis.XMessage) {
	for _, xm := range msgs {
		if _, dup := sc.held[xm.ID]; dup {
			continue
		}
		if len(xm.Values) == 0 { // deleted while pending; the reader replaces such entries (vanish.go)
			continue
		}
		msg, err := sc.s.cfg.Unmarshaller.Unmarshal(xm.Values)
		if err != nil || msg == nil {
			sc.s.log.Error("entry could not be read; it is handed on as invalid", "stream", sc.stream, "stream_id", xm.ID, "err", err)
			msg = message.NewMessage("", nil) // no fields: invalid
		}
		if msg.UUID == "" {
			msg.UUID = xm.ID
		}
		msg.Metadata.Set(MetaStreamID, xm.ID)
		sc.held[xm.ID] = struct{}{}
		key := sc.s.cfg.OrderKey(msg)
		if sc.busy[key] {
			sc.queues[key] = append(sc.queues[key], msg)
			continue
		}
		sc.busy[key] = true
		sc.hand(key, msg)
	}
}

// hand gives msg out, with a context of its own that ends once it is acked
// or nacked, and watches for the verdict. When the subscription ends before
// anyone takes it, msg stays pending in Redis and the scheduler drains.
func (sc *scheduler) hand(key string, msg *message.Message) {
	if sc.draining {
		return
	}
	parent := sc.msgCtx
	if mc := msg.Context(); mc != context.Background() {
		parent = withValues{Context: sc.msgCtx, values: mc}
	}
	ctx, cancel := context.WithCancel(parent)
	msg.SetContext(ctx)
	select {
	case sc.out <- msg:
	case <-sc.quit:
		cancel()
		sc.draining = true
		return
	}
	sc.inFlight++
	go sc.watch(key, msg, cancel)
}

// watch waits for the handler's verdict on one message.
func (sc *scheduler) watch(key string, msg *message.Message, done context.CancelFunc) {
	defer done()
	r := result{msg: msg, key: key}
	select {
	case <-msg.Acked():
		r.ack = true
	case <-msg.Nacked():
	case <-sc.stopped:
		return
	}
	select {
	case sc.results <- r:
	case <-sc.stopped:
	}
}

func (sc *scheduler) finish(r result) {
	id := r.msg.Metadata.Get(MetaStreamID)
	switch {
	case r.wake:
		if sc.draining || sc.lost {
			sc.release(r.key, id)
			return
		}
		sc.hand(r.key, r.msg)
		return
	case !r.ack:
		sc.inFlight--
		if sc.draining || sc.lost { // (lost: the stream's new reader has it)
			sc.release(r.key, id)
			return
		}
		// Hand out a fresh copy after a pause; the key stays busy, so order holds.
		cp := r.msg.Copy()
		time.AfterFunc(sc.s.cfg.NackDelay, func() {
			select {
			case sc.results <- result{msg: cp, key: r.key, wake: true}:
			case <-sc.stopped:
			}
		})
		return
	}
	sc.inFlight--
	if r.msg.Metadata.Get(MetaCommitted) == "" {
		sc.acks.add(id)
	}
	sc.release(r.key, id)
}

// dropQueued forgets every entry not handed out yet, when the Gate took
// the stream away: they are pending in the group, and the stream's new
// reader claims them. Messages in flight finish.
func (sc *scheduler) dropQueued() {
	sc.lost = true
	n := 0
	for key, q := range sc.queues {
		for _, m := range q {
			delete(sc.held, m.Metadata.Get(MetaStreamID))
			n++
		}
		delete(sc.queues, key)
	}
	sc.s.log.Warn("this consumer lost the stream while reading; the entries it had not handed out are left to the new reader",
		"stream", sc.stream, "dropped", n)
}

// release forgets a finished entry and hands out the next of its key.
func (sc *scheduler) release(key, id string) {
	delete(sc.held, id)
	q := sc.queues[key]
	if len(q) == 0 || sc.draining {
		delete(sc.busy, key)
		delete(sc.queues, key)
		return
	}
	next := q[0]
	q[0] = nil
	if len(q) == 1 {
		delete(sc.queues, key)
	} else {
		sc.queues[key] = q[1:]
	}
	sc.hand(key, next)
}

// touch resets the idle time of held entries, so that other consumers do not
// claim entries this one is still working on (a long outage downstream).
func (sc *scheduler) touch() {
	if len(sc.held) == 0 || sc.lost {
		return // (a lost stream's entries belong to its new reader: touching would claim them back)
	}
	ids := make([]string, 0, len(sc.held))
	for id := range sc.held {
		ids = append(ids, id)
	}
	s, stream := sc.s, sc.stream
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for len(ids) > 0 {
			n := min(len(ids), 1000)
			args := make([]any, 0, 2+n)
			args = append(args, s.cfg.Group, s.cfg.Consumer)
			for _, id := range ids[:n] {
				args = append(args, id)
			}
			err := touchScript.Run(ctx, s.rdb, []string{stream}, args...).Err()
			if err != nil && !errors.Is(err, redis.Nil) {
				s.log.Warn("touch held entries", "stream", stream, "err", err)
				return
			}
			ids = ids[n:]
		}
	}()
}

// reader makes the Redis reads the scheduler asks for: first this
// consumer's own pending entries (left by a crash), then new ones; and
// claims of entries other consumers left pending. With a Gate it reads
// only while the gate lets it, and on being let in it first claims every
// entry pending in the group, in stream order (a takeover).
func (sc *scheduler) reader(ctx context.Context) {
	s, cfg, stream := sc.s, sc.s.cfg, sc.stream
	own, after := cfg.Gate == nil, "0"
	let, takeover, cursor := false, false, "0-0"
	// claims walk the pending list pass by pass (docs/reliability.md, "Claiming")
	var claims streams.ClaimCursor
	for {
		var req readReq
		select {
		case <-ctx.Done():
			return
		case req = <-sc.reqs:
		}
		var msgs []redis.XMessage
		var err error
		if cfg.Gate != nil {
			switch ok := cfg.Gate.Read(ctx, stream, req.held); {
			case !ok:
				if let {
					s.log.Info("this consumer no longer reads the stream; another one does", "stream", stream, "consumer", cfg.Consumer)
				}
				let = false
				s.lastRead.Store(time.Now().UnixMilli()) // standing by is not a fault
				select {
				case <-ctx.Done():
				case <-time.After(cfg.GatePoll):
				}
				select {
				case sc.reads <- readRes{}:
				case <-ctx.Done():
					return
				}
				continue
			case !let:
				let, takeover, cursor = true, true, "0-0"
				s.log.Info("this consumer reads the stream now; it first takes over the entries pending in the group", "stream", stream, "consumer", cfg.Consumer)
			}
		}
		var gone []string // entries deleted while pending, replaced by entries naming them
		switch {
		case takeover:
			var next string
			msgs, next, gone, err = autoClaim(ctx, s.rdb, stream, cfg.Group, cfg.Consumer, 0, cursor, req.n, cfg.Vanished)
			if err == nil {
				cursor = next
				takeover = next != "0-0" && next != ""
			}
		case req.claim:
			var next string
			msgs, next, gone, err = autoClaim(ctx, s.rdb, stream, cfg.Group, cfg.Consumer, cfg.ClaimMinIdle, claims.Start(), req.n, cfg.Vanished)
			if err == nil {
				claims.Advance(next)
			}
			if len(msgs) > 0 {
				s.log.Info("claimed entries left pending by other consumers", "stream", stream, "count", len(msgs))
			}
		case own:
			msgs, err = streams.ReadGroup(ctx, s.rdb, stream, cfg.Group, cfg.Consumer, after, req.n, -1)
			if err == nil && len(msgs) == 0 {
				own = false
			} else if len(msgs) > 0 {
				after = msgs[len(msgs)-1].ID
			}
		default:
			msgs, err = streams.ReadGroup(ctx, s.rdb, stream, cfg.Group, cfg.Consumer, ">", req.n, cfg.Block)
		}
		if err == nil {
			var more []string
			msgs, more = s.vanished(ctx, stream, msgs)
			s.logVanished(stream, append(gone, more...))
		}
		if err == nil && len(msgs) > 0 && cfg.Gate != nil && !cfg.Gate.Kept(ctx, stream) {
			// Read while this consumer was losing the stream (a pause past
			// its lease): the new reader has these, or claims them.
			let = false
			select {
			case sc.reads <- readRes{lost: true}:
			case <-ctx.Done():
				return
			}
			continue
		}
		if err != nil && ctx.Err() == nil && streams.RecreateGroup(ctx, s.rdb, stream, cfg.Group, err) {
			// The stream or its group vanished (DEL, FLUSHALL, eviction):
			// made again, and read again at once.
			s.log.Warn("the stream or its consumer group was gone; created again", "stream", stream, "group", cfg.Group)
			own, after, err = false, "0", nil
			claims.Reset()
		} else if err != nil && ctx.Err() == nil {
			level := slog.LevelError
			if redisretry.Transient(err) {
				level = slog.LevelWarn // a failover or a reshard under way: it passes
			}
			s.log.Log(ctx, level, "reading the stream failed; trying again", "stream", stream, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		} else if err == nil {
			s.lastRead.Store(time.Now().UnixMilli())
		}
		select {
		case sc.reads <- readRes{msgs: msgs}:
		case <-ctx.Done():
			return
		}
	}
}

// withValues is a context that ends with its own Context and also holds the
// values of another one: a message's context keeps what the unmarshaller
// put in it.
type withValues struct {
	context.Context
	values context.Context
}

func (c withValues) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}
