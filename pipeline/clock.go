package pipeline

import "time"

// Clock tells the time; tests move a fake one instead of sleeping.
type Clock interface {
	Now() time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// WallClock is the real time.
var WallClock Clock = wallClock{}
