package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// make clean-data stops the make run that holds the checkout's lock, then
// removes .run/ with its data and logs.
func TestCleanDataStopsTheRunAndRemovesRun(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	root := t.TempDir()
	copyFile(t, "../Makefile", filepath.Join(root, "Makefile"))
	copyFile(t, "infra.sh", filepath.Join(root, "scripts", "infra.sh"))
	run := exec.Command("sleep", "300") // stands in for a make run
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = run.Wait(); close(exited) }()
	t.Cleanup(func() { _ = run.Process.Kill() })
	if err := os.MkdirAll(filepath.Join(root, ".run", "redis"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".run", "run.pid"), []byte(strconv.Itoa(run.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".run", "streamsync.log"), []byte("old logs"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "--no-print-directory", "clean-data")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "STREAMSYNC_DEV_REDIS_PORT="+freePort(t), "STREAMSYNC_DEV_CLICKHOUSE_PORT="+freePort(t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make clean-data: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, ".run")); !os.IsNotExist(err) {
		t.Fatalf(".run/ is still there (%v):\n%s", err, out)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the run (pid %d) outlived make clean-data:\n%s", run.Process.Pid, out)
	}
	if !strings.Contains(string(out), "stopping make run") {
		t.Fatalf("make clean-data did not say it stopped the run:\n%s", out)
	}
}
