package main

import "context"

// component is one part of `streamsync run` (run.go lists them): Start
// returns once it runs, Stop ends it and waits until it has ended. ctx of
// Start ends when the process is told to stop (SIGTERM); ctx of Stop does
// not end, each component bounds its own wait.
type component interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// lifecycle starts components in order and stops them in reverse order,
// as asynq's server does.
type lifecycle struct {
	started []component
}

// start starts each of cs in order (a nil one is off); when one fails,
// those already started are stopped and its error returned.
func (l *lifecycle) start(ctx context.Context, cs ...component) error {
	for _, c := range cs {
		if c == nil {
			continue
		}
		if err := c.Start(ctx); err != nil {
			_ = l.stop(context.WithoutCancel(ctx))
			return err
		}
		l.started = append(l.started, c)
	}
	return nil
}

// stop stops the started components, the last started first, and returns
// the first error one of them returned.
func (l *lifecycle) stop(ctx context.Context) error {
	var first error
	for i := len(l.started) - 1; i >= 0; i-- {
		if err := l.started[i].Stop(ctx); err != nil && first == nil {
			first = err
		}
	}
	l.started = nil
	return first
}

// background is a component that runs run in a goroutine from Start until
// Stop, which cancels run's context and waits for run to return. With
// untilSignal, run's context also ends when the process is told to stop.
type background struct {
	run         func(ctx context.Context)
	untilSignal bool

	cancel context.CancelFunc
	done   chan struct{}
}

func (b *background) Start(ctx context.Context) error {
	if !b.untilSignal {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, b.cancel = context.WithCancel(ctx)
	b.done = make(chan struct{})
	go func() {
		defer close(b.done)
		b.run(ctx)
	}()
	return nil
}

func (b *background) Stop(context.Context) error {
	if b.cancel != nil {
		b.cancel()
		<-b.done
	}
	return nil
}

// funcs is a component of two funcs; either may be nil.
type funcs struct {
	start func(ctx context.Context) error
	stop  func(ctx context.Context) error
}

func (f funcs) Start(ctx context.Context) error {
	if f.start == nil {
		return nil
	}
	return f.start(ctx)
}

func (f funcs) Stop(ctx context.Context) error {
	if f.stop == nil {
		return nil
	}
	return f.stop(ctx)
}
