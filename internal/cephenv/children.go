package cephenv

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Children returns the pids of this process's children whose command
// name (/proc/PID/comm, at most 15 bytes) is comm, or of every child
// when comm is empty: how tests find the Ceph workers (otterscale-ceph)
// a Pool started, to kill them or to see that none is left. Zombies
// count: a child that has exited but was not waited for is still there.
// It reads /proc, so it finds nothing outside Linux.
func Children(comm string) []int {
	if len(comm) > 15 {
		comm = comm[:15]
	}
	self := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, dir := range dirs {
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue // it has gone meanwhile
		}
		// PID (COMM) STATE PPID ...; COMM may hold spaces and parentheses.
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) < 2 || fields[1] != self || (comm != "" && s[open+1:end] != comm) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(dir)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
