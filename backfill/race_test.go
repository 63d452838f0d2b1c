//go:build race

package backfill_test

// Under the race detector (make test) the pipeline runs about ten times
// slower; the live-events test keeps to seconds with fewer records. Without
// -race it runs the full 20,000.
func init() { liveRecords = 4000 }
