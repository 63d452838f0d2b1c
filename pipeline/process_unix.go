//go:build unix

package pipeline

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
)

// processRuns reports whether a process with id pid runs on this host (one
// of another user's counts).
func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !zombie(pid)
}

// zombie reports whether pid has ended but not been reaped yet (state Z in
// /proc/<pid>/stat, Linux): a killed process whose parent waits late still
// answers kill(pid, 0), though it runs no more. Where /proc cannot tell, the
// process counts as running.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S …": comm may hold spaces and parentheses, so the state
	// is the field after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
