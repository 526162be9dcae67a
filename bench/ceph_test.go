package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// The proxy's stderr as pkg/worker's Pool writes it through slog: the
// worker lines are counted apart from the calls, and the first death is
// kept with its reason.
func TestLogCounterWorkerLines(t *testing.T) {
	l := &logCounter{}
	log := slog.New(slog.NewTextHandler(l, nil))
	log.Info("Ceph worker started", "pid", 10, "ceph", "Ceph at [v2:127.0.0.1:1] as client.admin (from flags)")
	log.Info("call", "procedure", "/otterscale.storage.v1.StorageService/ListImages", "code", "ok")
	log.Warn("Ceph worker died; starting another", "pid", 10, "reason", `signal: aborted: "terminate called"`)
	log.Info("Ceph worker started", "pid", 11)
	log.Warn("Ceph call hung; worker stopped", "pid", 11)
	if l.workersStarted != 2 || l.workersDied != 1 || l.workersHung != 1 {
		t.Errorf("started %d, died %d, hung %d; want 2, 1, 1", l.workersStarted, l.workersDied, l.workersHung)
	}
	if got := l.counts()["ok"]; got != 1 {
		t.Errorf("%d calls with code ok, want 1", got)
	}
	if want := "terminate called"; !strings.Contains(l.firstDeath, want) {
		t.Errorf("first death %q lacks %q", l.firstDeath, want)
	}
}

// peakOfTree against real processes: a shell that starts a child named
// otterscale-ceph (a copy of sleep) and exits before it, as the plugin
// leaves its worker; the child is found, followed after its parent's exit
// and reaped here.
func TestPeakOfTree(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		daemon.Absent(t, "no sleep(1) (coreutils)")
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(t.TempDir(), "otterscale-ceph")
	if err := os.WriteFile(fake, data, 0o755); err != nil {
		t.Fatal(err)
	}
	restore, err := becomeSubreaper()
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	b := &cephBench{pluginE: os.Environ()}
	got, err := b.peakOfTree(context.Background(), []string{"/bin/sh", "-c", fmt.Sprintf("%s 0.3 & sleep 0.1", fake)})
	if err != nil {
		t.Fatal(err)
	}
	if got.workers != 1 || got.plugin <= 0 || got.worker <= 0 {
		t.Errorf("got %+v, want one worker and both peaks above 0", got)
	}
}
