package pipeline

import (
	"context"
	"testing"
)

// The events stream deleted under a running pipeline is made again with
// its group; events appended afterwards are delivered.
func TestPipelineRecoversFromAVanishedStream(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("e1", "acc", "main", "k1", 1, `{}`)
	h.waitSteps("e1", "delivered")
	h.rdb.Del(context.Background(), h.keys.Events)
	h.upsert("e2", "acc", "main", "k2", 1, `{}`)
	h.waitSteps("e2", "delivered")
	h.rdb.XGroupDestroy(context.Background(), h.keys.Events, h.keys.Group)
	h.upsert("e3", "acc", "main", "k3", 1, `{}`)
	h.waitSteps("e3", "delivered")
}
