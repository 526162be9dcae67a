package worker_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/daemon"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
	"github.com/otterscale/kubectl-otterscale/pkg/worker/internal/fake"
)

// realWorker is why the real otterscale-ceph cannot be used here, nil
// when $OTTERSCALE_CEPH_WORKER names it.
var realWorker error

// fakeWorker is a fake otterscale-ceph (internal/fake/fakeworker): the
// Pool's side is tested against a worker that hangs, crashes or aborts on
// demand, with no Ceph. The tests that need librados' own answers run the
// real otterscale-ceph.
var fakeWorker string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "fakeworker-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeWorker = filepath.Join(dir, "fakeworker")
	if out, err := exec.Command("go", "build", "-o", fakeWorker, "./internal/fake/fakeworker").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the fake worker: %v\n%s", err, out)
		os.Exit(1)
	}
	if testing.Short() {
		realWorker = errors.New("no otterscale-ceph build in -short mode")
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		realWorker = cephenv.EnsureWorker(ctx, nil)
		cancel()
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// logs collects a Pool's log lines.
type logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakePool is a Pool of fake workers (this test binary) logging to the
// returned logs; Close runs at the test's end.
func fakePool(t *testing.T, callTimeout time.Duration) (*worker.Pool, *logs) {
	t.Helper()
	l := &logs{}
	p := worker.NewPool(worker.Options{Path: fakeWorker, CallTimeout: callTimeout, Logger: slog.New(slog.NewTextHandler(l, nil))})
	t.Cleanup(func() {
		p.Close()
		waitNoChildren(t, filepath.Base(fakeWorker))
	})
	return p, l
}

// secret is a key no message or log line may show: a well-formed cephx
// key (type 1, a creation time, 16 secret bytes), so that librados takes it.
var secret = func() string {
	b := []byte{1, 0, 0x5e, 0x5e, 0x5e, 0x5e, 0, 0, 0, 0, 16, 0}
	return base64.StdEncoding.EncodeToString(append(b, "never-show-this!"...))
}()

// fakeConfig is a Config for the fake worker behaving as mode; blocking
// calls leave a file in the returned directory as they arrive.
func fakeConfig(t *testing.T, mode string) (*cephconf.Config, string) {
	t.Helper()
	dir := t.TempDir()
	return &cephconf.Config{MonHost: mode, User: "tester", Key: secret, ConfFile: dir, Source: "the test"}, dir
}

// waitNoChildren fails t unless every child of this process named comm
// has gone (and was waited for) within ten seconds.
func waitNoChildren(t *testing.T, comm string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := cephenv.Children(comm)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("worker processes %v (%s) are left after Close", pids, comm)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitArrived waits until n blocking calls have reached the fake worker.
func waitArrived(t *testing.T, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "arrived-*"))
		if len(files) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls reached the worker", len(files), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// servedBy answers the pid of the worker that answers ListImages.
func servedBy(t *testing.T, p *worker.Pool, cfg *cephconf.Config) int {
	t.Helper()
	w, err := p.Get(t.Context(), cfg)
	if err != nil {
		t.Fatalf("get a worker: %v", err)
	}
	resp, err := w.Storage.ListImages(t.Context(), connect.NewRequest(&storagev1.ListImagesRequest{}))
	if err != nil {
		t.Fatalf("list images: %v", err)
	}
	pid, err := strconv.Atoi(resp.Msg.GetImages()[0].GetName())
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func message(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return fmt.Sprint(err)
}

// wantError fails t unless err has code and its message says each of want.
func wantError(t *testing.T, what string, err error, code connect.Code, want ...string) {
	t.Helper()
	if connect.CodeOf(err) != code || err == nil {
		t.Errorf("%s: %v, want %v", what, err, code)
		return
	}
	for _, w := range want {
		if !strings.Contains(message(err), w) {
			t.Errorf("%s: message %q does not say %q", what, message(err), w)
		}
	}
	if strings.Contains(fmt.Sprint(err), secret) {
		t.Errorf("%s: the error shows the key: %v", what, err)
	}
}

// A worker that cannot start, or that ends during the handshake, answers
// the first call with why; nothing hangs, and nothing is left running.
func TestStartFailures(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken", worker.BinaryName)
	if err := os.Mkdir(filepath.Dir(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	cephenv.BrokenBinary(t, broken, "librbdgone.so.1")
	noCeph := filepath.Join(dir, "nocgo", worker.BinaryName)
	if err := os.Mkdir(filepath.Dir(noCeph), 0o755); err != nil {
		t.Fatal(err)
	}
	// What the build without cgo does.
	if err := os.WriteFile(noCeph, []byte("#!/bin/sh\necho 'otterscale-ceph was built without Ceph support' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		path  string
		mode  string
		code  connect.Code
		noCep bool
		want  []string
	}{
		{"missing shared library", broken, fake.OK, connect.CodeFailedPrecondition, true, []string{broken, "librbdgone.so.1 is missing", "librbd1"}},
		{"built without Ceph", noCeph, fake.OK, connect.CodeFailedPrecondition, true, []string{noCeph, "without Ceph support"}},
		{"not there", filepath.Join(dir, "none", worker.BinaryName), fake.OK, connect.CodeFailedPrecondition, true, []string{"cannot be run"}},
		{"exits during the handshake", fakeWorker, fake.Exit, connect.CodeUnavailable, false, []string{"crashed while connecting", "exit status 1", "fake worker: cannot go on", "a new worker serves the next call"}},
		{"aborts during the handshake", fakeWorker, fake.Abort, connect.CodeUnavailable, false, []string{"crashed while connecting", "signal: aborted", "Invalid argument"}},
		{"refuses the key", fakeWorker, fake.Refuse, connect.CodeUnauthenticated, false, []string{"refused client.tester's key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := &logs{}
			p := worker.NewPool(worker.Options{Path: tt.path, Logger: slog.New(slog.NewTextHandler(l, nil))})
			defer func() {
				p.Close()
				waitNoChildren(t, "")
			}()
			cfg, _ := fakeConfig(t, tt.mode)
			for range 2 { // the second Get starts again, and fails the same way
				_, err := p.Get(t.Context(), cfg)
				wantError(t, "get", err, tt.code, tt.want...)
				if got := errors.Is(err, worker.ErrNoCeph); got != tt.noCep {
					t.Errorf("errors.Is(%v, ErrNoCeph) = %v, want %v", err, got, tt.noCep)
				}
			}
			if strings.Contains(l.String(), secret) {
				t.Errorf("the key is in the log:\n%s", l)
			}
		})
	}
}

// blockCalls starts n calls that block in the fake worker, waits until
// each has arrived, and answers their errors as they end.
func blockCalls(t *testing.T, w *worker.Worker, dir string, n int) <-chan error {
	t.Helper()
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := w.Storage.ListImageSnapshots(t.Context(), connect.NewRequest(&storagev1.ListImageSnapshotsRequest{PoolName: "p", ImageName: fake.ImageBlock}))
			errs <- err
		}()
	}
	waitArrived(t, dir, n)
	return errs
}

// Calls in flight when their worker is killed (SIGKILL, or SIGABRT as
// librbd's abort) answer unavailable saying that the worker crashed and
// how; the next call gets a new worker.
func TestWorkerKilledMidCall(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGABRT} {
		t.Run(sig.String(), func(t *testing.T) {
			p, l := fakePool(t, 0)
			cfg, dir := fakeConfig(t, fake.OK)
			before := servedBy(t, p, cfg)
			w, err := p.Get(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			const inFlight = 8
			errs := blockCalls(t, w, dir, inFlight)
			if err := syscall.Kill(before, sig); err != nil {
				t.Fatal(err)
			}
			how := map[syscall.Signal]string{syscall.SIGKILL: "signal: killed", syscall.SIGABRT: "signal: aborted"}[sig]
			for range inFlight {
				wantError(t, "a call in flight", <-errs, connect.CodeUnavailable,
					"crashed during otterscale.storage.v1.StorageService/ListImageSnapshots", how, "pid "+strconv.Itoa(before), "a new worker serves the next call")
			}
			if after := servedBy(t, p, cfg); after == before {
				t.Errorf("the next call was served by the dead worker %d", before)
			}
			if !strings.Contains(l.String(), "Ceph worker died") || strings.Contains(l.String(), secret) {
				t.Errorf("the log does not say the worker died, or shows the key:\n%s", l)
			}
		})
	}
}

// A worker that aborts by itself mid-call (as librbd does) is reported
// with libstdc++'s last words.
func TestWorkerAbortsMidCall(t *testing.T) {
	p, _ := fakePool(t, 0)
	cfg, _ := fakeConfig(t, fake.OK)
	before := servedBy(t, p, cfg)
	w, err := p.Get(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Storage.ListImageSnapshots(t.Context(), connect.NewRequest(&storagev1.ListImageSnapshotsRequest{PoolName: "p", ImageName: fake.ImageAbort}))
	wantError(t, "the aborting call", err, connect.CodeUnavailable, "crashed during", "signal: aborted",
		"terminate called after throwing an instance of 'std::system_error': what():  Invalid argument")
	if after := servedBy(t, p, cfg); after == before {
		t.Errorf("the next call was served by the dead worker %d", before)
	}
}

// A call that outlasts the call timeout is ended, unavailable, saying that
// a Ceph call hung; the worker is stopped, the calls it was serving say
// why, and the next call gets a new worker. Another cluster's worker in the
// same Pool goes on serving meanwhile.
func TestHungCall(t *testing.T) {
	p, l := fakePool(t, 2*time.Second)
	cfg, dir := fakeConfig(t, fake.OK)
	other, _ := fakeConfig(t, fake.OK)
	other.Source = "another cluster"
	before := servedBy(t, p, cfg)
	otherPID := servedBy(t, p, other)
	w, err := p.Get(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	const inFlight = 4
	errs := blockCalls(t, w, dir, inFlight)
	if got := servedBy(t, p, other); got != otherPID {
		t.Errorf("the other cluster's worker changed from %d to %d", otherPID, got)
	}
	for range inFlight {
		err := <-errs
		if !strings.Contains(message(err), "did not answer within 2s") {
			wantError(t, "a call on the hung worker", err, connect.CodeUnavailable, "stopped because another call hung", "a new worker serves the next call")
			continue
		}
		wantError(t, "a hung call", err, connect.CodeUnavailable, "ListImageSnapshots", "a Ceph call hung", "a new worker serves the next call")
	}
	if after := servedBy(t, p, cfg); after == before {
		t.Errorf("the next call was served by the stopped worker %d", before)
	}
	if got := servedBy(t, p, other); got != otherPID {
		t.Errorf("the other cluster's worker changed from %d to %d", otherPID, got)
	}
	if !strings.Contains(l.String(), "Ceph call hung") {
		t.Errorf("the log does not say that a call hung:\n%s", l)
	}
}

// Close stops every worker, the spare that Warm started included, and ends
// the calls in flight; nothing is left running, and Get afterwards says
// that the workers are stopping.
func TestCloseStopsWorkers(t *testing.T) {
	l := &logs{}
	p := worker.NewPool(worker.Options{Path: fakeWorker, Logger: slog.New(slog.NewTextHandler(l, nil))})
	comm := filepath.Base(fakeWorker)
	a, dir := fakeConfig(t, fake.OK)
	b, _ := fakeConfig(t, fake.OK)
	b.Source = "another cluster"
	servedBy(t, p, a)
	servedBy(t, p, b)
	p.Warm()
	if n := len(cephenv.Children(comm)); n != 3 {
		t.Errorf("%d workers run, want 3 (two clusters' and a spare)", n)
	}
	w, err := p.Get(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	errs := blockCalls(t, w, dir, 1)
	p.Close()
	wantError(t, "a call in flight at Close", <-errs, connect.CodeUnavailable, "stopped")
	waitNoChildren(t, comm)
	_, err = p.Get(t.Context(), a)
	wantError(t, "Get after Close", err, connect.CodeUnavailable, "stopping")
	if strings.Contains(l.String(), "died") || strings.Contains(l.String(), secret) {
		t.Errorf("Close's stops are logged as deaths, or the key is logged:\n%s", l)
	}
}

// The real otterscale-ceph, given a distinctive key, never shows it: not
// in the errors of a refused or unreachable connection, not in the Pool's
// log.
func TestRealWorkerNeverShowsTheKey(t *testing.T) {
	if realWorker != nil {
		if daemon.InCI() && !testing.Short() {
			t.Fatalf("CI must have otterscale-ceph: %v", realWorker)
		}
		t.Skip(realWorker)
	}
	l := &logs{}
	p := worker.NewPool(worker.Options{Logger: slog.New(slog.NewTextHandler(l, nil))})
	defer func() {
		p.Close()
		waitNoChildren(t, worker.BinaryName)
	}()
	for _, tt := range []struct {
		name string
		cfg  cephconf.Config
		code connect.Code
		want string
	}{
		{"nothing listens", cephconf.Config{MonHost: "127.0.0.1:1", User: "admin", Key: secret, Timeout: time.Second}, connect.CodeUnavailable, "unreachable"},
		{"not a key", cephconf.Config{MonHost: "127.0.0.1:1", User: "admin", Key: "not base64 " + secret, Timeout: time.Second}, connect.CodeUnavailable, ""},
		{"no such monitor host", cephconf.Config{MonHost: "no-such-host.invalid", User: "admin", Key: secret, Timeout: time.Second}, connect.CodeUnavailable, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Get(t.Context(), &tt.cfg)
			if err == nil {
				t.Fatal("Get succeeded")
			}
			t.Logf("%v", err)
			if strings.Contains(fmt.Sprint(err), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
				t.Errorf("the error shows the key: %v", err)
			}
			if tt.want != "" {
				wantError(t, "get", err, tt.code, tt.want)
			}
		})
	}
	if strings.Contains(l.String(), secret) {
		t.Errorf("the key is in the log:\n%s", l)
	}
}
