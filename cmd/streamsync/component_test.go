package main

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// Components start in order and stop in reverse order; when one fails to
// start, those already started stop, and the rest never start.
func TestLifecycle(t *testing.T) {
	var calls []string
	part := func(name string, startErr, stopErr error) component {
		return funcs{
			start: func(context.Context) error { calls = append(calls, "start "+name); return startErr },
			stop:  func(context.Context) error { calls = append(calls, "stop "+name); return stopErr },
		}
	}
	failed, stopped := errors.New("refused"), errors.New("cut off")
	tests := []struct {
		name       string
		parts      []component
		startErr   error
		stopErr    error
		wantCalls  []string
		stopCalled bool
	}{
		{name: "in order, then in reverse", parts: []component{part("a", nil, nil), nil, part("b", nil, nil)}, stopCalled: true,
			wantCalls: []string{"start a", "start b", "stop b", "stop a"}},
		{name: "a start that fails", parts: []component{part("a", nil, nil), part("b", failed, nil), part("c", nil, nil)}, startErr: failed,
			wantCalls: []string{"start a", "start b", "stop a"}},
		{name: "the first stop error", parts: []component{part("a", nil, errors.New("later")), part("b", nil, stopped)}, stopCalled: true,
			stopErr: stopped, wantCalls: []string{"start a", "start b", "stop b", "stop a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			var l lifecycle
			if err := l.start(context.Background(), tt.parts...); !errors.Is(err, tt.startErr) {
				t.Fatalf("start: %v, want %v", err, tt.startErr)
			}
			if tt.stopCalled {
				if err := l.stop(context.Background()); !errors.Is(err, tt.stopErr) {
					t.Fatalf("stop: %v, want %v", err, tt.stopErr)
				}
			}
			if !slices.Equal(calls, tt.wantCalls) {
				t.Fatalf("calls %q, want %q", calls, tt.wantCalls)
			}
		})
	}
}

// A background component's run ends at Stop, and with untilSignal also
// when the process is told to stop.
func TestBackground(t *testing.T) {
	for _, untilSignal := range []bool{false, true} {
		ctx, signal := context.WithCancel(context.Background())
		ended := make(chan struct{})
		b := &background{untilSignal: untilSignal, run: func(ctx context.Context) { <-ctx.Done(); close(ended) }}
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		signal()
		if untilSignal {
			<-ended
		} else {
			select {
			case <-ended:
				t.Fatal("ended at the signal, not at Stop")
			default:
			}
		}
		_ = b.Stop(context.Background())
		<-ended
	}
}
