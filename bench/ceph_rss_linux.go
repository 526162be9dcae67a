//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER.
const prSetChildSubreaper = 36

// becomeSubreaper makes this process the reaper of its descendants'
// orphans, so that a worker that outlives its plugin is reaped here, not
// left to whatever init the machine has; restore undoes it.
func becomeSubreaper() (restore func(), err error) {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return nil, fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", e)
	}
	return func() { _, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 0, 0) }, nil
}

// sampleEveryMs is how often peakOfTree reads /proc.
const peakSampleEvery = time.Millisecond

// peakOfTree runs argv and returns its peak RSS and that of the Ceph
// workers it starts (children named otterscale-ceph), from VmHWM in
// /proc/PID/status, read every millisecond until each process is gone:
// VmHWM only grows, so the last reading misses at most the last
// millisecond's growth.
//
// The kernel's own figure, ru_maxrss from wait4, is not used: it counts
// the address space a process had before its exec, and a child that Go
// starts (clone with CLONE_VM, as os/exec does) had its parent's, so
// ru_maxrss reports the parent's peak whenever that is higher (this
// bench's, some 150 MiB, for the plugin and rbd; the plugin's for its
// worker).
func (b *cephBench) peakOfTree(ctx context.Context, argv []string) (treePeak, error) {
	var t treePeak
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = b.envFor(argv)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return t, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	pid := cmd.Process.Pid
	children := map[int]bool{} // every child seen: gone or not
	workers := map[int]int64{} // the children that became workers: VmHWM
	exited, deadline := false, time.Now().Add(time.Minute)
	var waitErr error
	for time.Now().Before(deadline) {
		if !exited {
			select {
			case waitErr = <-done:
				exited = true
			default:
				if kib, err := vmHWM(pid); err == nil {
					t.plugin = kib
				}
				for _, c := range childrenOf(pid) {
					if _, ok := children[c]; !ok {
						children[c] = false
					}
				}
			}
		}
		running := 0
		for c, gone := range children {
			if gone {
				continue
			}
			kib, err := vmHWM(c)
			if err != nil { // exited: a zombie has no memory lines
				children[c] = true
				continue
			}
			running++
			if isWorker(c) {
				workers[c] = kib
			}
		}
		if exited && running == 0 {
			break
		}
		time.Sleep(peakSampleEvery)
	}
	if !exited {
		_ = cmd.Process.Kill()
		waitErr = <-done
	}
	// Reap the orphaned workers (this process is their subreaper); one
	// that the plugin reaped itself answers ECHILD.
	for c := range children {
		_ = reap(c, 10*time.Second)
	}
	if waitErr != nil {
		return t, fmt.Errorf("%s: %w\n%s", b.show(argv), waitErr, out.String())
	}
	if len(children) > 0 && len(workers) == 0 {
		return t, fmt.Errorf("%s: saw %d children, none of them %s", b.show(argv), len(children), worker.BinaryName)
	}
	t.workers = len(workers)
	for _, kib := range workers {
		t.worker += kib
	}
	return t, nil
}

// isWorker says whether pid runs otterscale-ceph (comm is at most 15
// bytes, as is the name).
func isWorker(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(comm)) == worker.BinaryName[:min(15, len(worker.BinaryName))]
}

// reap waits for pid, this process's child, up to limit (then kills it).
func reap(pid int, limit time.Duration) error {
	ch := make(chan error, 1)
	go func() {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if !errors.Is(err, syscall.EINTR) {
				ch <- err
				return
			}
		}
	}()
	select {
	case err := <-ch:
		return err
	case <-time.After(limit):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return errors.Join(fmt.Errorf("pid %d still running %s after its parent exited; killed", pid, limit), <-ch)
	}
}

// childrenOf lists the children of every thread of pid.
func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(field); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// vmHWM is pid's peak RSS so far, KiB.
func vmHWM(pid int) (int64, error) {
	m, err := readProcMemory(pid)
	return m.peak, err
}
