package main

import (
	"os"
	"testing"
)

// childEnv makes the test binary run streamsync itself, so that tests can
// start, kill and restart the real process.
const childEnv = "STREAMSYNC_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Args = append([]string{"streamsync"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
