package main

import (
	"testing"

	"github.com/spf13/pflag"
)

// --help describes every flag of every command.
func TestEveryFlagDescribed(t *testing.T) {
	for name := range commands {
		newFlagSet(name).VisitAll(func(f *pflag.Flag) {
			if f.Usage == "" {
				t.Errorf("streamsync %s --%s: no description in --help", name, f.Name)
			}
		})
	}
}
