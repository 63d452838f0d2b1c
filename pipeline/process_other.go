//go:build !unix

package pipeline

// processRuns cannot tell here; it says yes, so a name is never waited for
// in vain (ConsumerName).
func processRuns(int) bool { return true }
