package pipeline

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// workers runs the handler's work on long-lived goroutines. Watermill's
// router starts a goroutine per message, and the partner call is deep: each
// of those goroutines grew its stack on the way (runtime.copystack was 8 %
// of the pipeline's CPU in the peer benchmark's profile). A pooled worker
// keeps the stack it grew, and the router's goroutine only waits.
type workers struct {
	jobs chan job // unbuffered: a send succeeds only when a worker is idle
	mu   sync.Mutex
	n    int
	max  int
}

type job struct {
	f    func() error
	done chan error
}

// newWorkers makes a pool of at most max goroutines, started as needed;
// idle ones wait for the next job until close.
func newWorkers(max int) *workers {
	return &workers{jobs: make(chan job), max: max}
}

var donePool = sync.Pool{New: func() any { return make(chan error, 1) }}

// run runs f on a worker and returns its error; a panic in f comes back
// as an error (with the stack), as Watermill's Recoverer would make it.
func (w *workers) run(f func() error) error {
	j := job{f: f, done: donePool.Get().(chan error)}
	select {
	case w.jobs <- j:
	default:
		w.mu.Lock()
		if w.n < w.max {
			w.n++
			w.mu.Unlock()
			go w.loop(j)
		} else {
			w.mu.Unlock()
			w.jobs <- j
		}
	}
	err := <-j.done
	donePool.Put(j.done)
	return err
}

func (w *workers) loop(j job) {
	for {
		j.done <- do(j.f)
		var ok bool
		if j, ok = <-w.jobs; !ok {
			return
		}
	}
}

func do(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in the handler: %v\n%s", r, debug.Stack())
		}
	}()
	return f()
}

// close lets the idle workers end; run must not be called after it.
func (w *workers) close() { close(w.jobs) }
