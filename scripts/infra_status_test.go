package scripts

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// infraSandbox is a copy of infra.sh in a directory of its own (a checkout
// of its own), run with env.
func infraSandbox(t *testing.T) func(env []string, args ...string) string {
	t.Helper()
	root := t.TempDir()
	copyFile(t, "infra.sh", filepath.Join(root, "scripts", "infra.sh"))
	return func(env []string, args ...string) string {
		cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts", "infra.sh")}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("infra.sh %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
}

// infra.sh status says what answers on each port and whether it is this
// checkout's, as up decides: a Redis another checkout started answers and
// is reused, not "not running"; one this checkout started is named with its
// pid; a port taken by something else is refused; the test Sentinel's
// sentinels answer.
func TestInfraStatusSaysWhatAnswers(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed (scripts/infra.sh up redis installs it)")
	}
	mine, other := infraSandbox(t), infraSandbox(t)
	redisPort, takenPort := freePort(t), freePort(t)
	taken, err := net.Listen("tcp", "127.0.0.1:"+takenPort)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	sentinels := "" // the test Sentinel's, when there is one
	if a := os.Getenv("STREAMSYNC_TEST_REDIS_SENTINEL_ADDRS"); a != "" {
		sentinels = strings.ReplaceAll(a, "127.0.0.1:", "")
	}
	env := []string{"STREAMSYNC_DEV_REDIS_PORT=" + redisPort, "STREAMSYNC_DEV_CLICKHOUSE_PORT=" + takenPort,
		"STREAMSYNC_DEV_POSTGRES_PORT=" + freePort(t), "STREAMSYNC_DEV_CLUSTER_PORTS=" + freePort(t),
		"STREAMSYNC_DEV_CH_CLUSTER_PORTS=" + freePort(t), "STREAMSYNC_DEV_SENTINEL_REDIS_PORTS=" + freePort(t)}
	if sentinels != "" {
		env = append(env, "STREAMSYNC_DEV_SENTINEL_PORTS="+sentinels)
	} else {
		env = append(env, "STREAMSYNC_DEV_SENTINEL_PORTS="+freePort(t))
	}
	mine(env, "up", "redis")
	t.Cleanup(func() { mine(env, "down", "redis") })

	got := mine(env, "status")
	t.Logf("this checkout's status:\n%s", got)
	if !strings.Contains(got, "redis on 127.0.0.1:"+redisPort+": this checkout's (pid ") {
		t.Errorf("the Redis this checkout started is not named its own")
	}
	got = other(env, "status")
	t.Logf("another checkout's status:\n%s", got)
	for _, want := range []string{
		"redis on 127.0.0.1:" + redisPort + ": answering, not this checkout's",
		"clickhouse on 127.0.0.1:" + takenPort + ": the port is taken by something else; up refuses it",
		"postgres on 127.0.0.1:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status does not say %q", want)
		}
	}
	if strings.Contains(got, "redis not running") || strings.Contains(got, "clickhouse cluster streamsync_test running") {
		t.Errorf("status says a server is or is not running against what answers")
	}
	if sentinels != "" {
		first := strings.Split(sentinels, ",")[0]
		if !strings.Contains(got, "sentinel on 127.0.0.1:"+first+": answering") || !strings.Contains(got, "redis sentinel: master streamsync-test at ") {
			t.Errorf("status does not say that the sentinels on %s answer", sentinels)
		}
	}
}
