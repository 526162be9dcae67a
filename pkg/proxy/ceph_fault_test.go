package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// workerStorage is rookStorage with a Pool of its own, whose log (each
// worker started, died or stopped for a hung call) is returned.
func workerStorage(t *testing.T, f *fixture, c *cephenv.Cluster, opts worker.Options) (*storage.Service, *logBuffer) {
	t.Helper()
	if err := c.WriteRook(t.Context(), f.Kube.CoreV1(), f.Namespace); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	svc := storage.NewWithWorkers(f.Provider(""), cephconf.Flags{RookNamespace: f.Namespace, Timeout: 5 * time.Second}, worker.NewPool(opts))
	t.Cleanup(svc.Close)
	return svc, logs
}

// flagStorage talks to c as client.admin, found through explicit flags,
// with the Ceph timeout given, through pool.
func flagStorage(t *testing.T, c *cephenv.Cluster, timeout time.Duration, pool *worker.Pool) *storage.Service {
	t.Helper()
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte(c.AdminKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := storage.NewWithWorkers(nil, cephconf.Flags{MonHost: c.MonHost, KeyFile: key, User: "admin", Timeout: timeout}, pool)
	t.Cleanup(svc.Close)
	return svc
}

// onlyWorker answers the pid of this process's one Ceph worker.
func onlyWorker(t *testing.T) int {
	t.Helper()
	pids := cephenv.Children(worker.BinaryName)
	if len(pids) != 1 {
		t.Fatalf("%d %s processes run under the test (%v), want 1", len(pids), worker.BinaryName, pids)
	}
	return pids[0]
}

func errMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return fmt.Sprint(err)
}

// The Ceph worker killed (SIGKILL, or SIGABRT as librbd's abort) while the
// proxy's clients have calls in flight: each of those answers unavailable,
// saying that the worker crashed and how, a new worker serves the next
// calls, and the proxy goes on serving.
func TestCephWorkerKilledMidCall(t *testing.T) {
	c := cephenv.Require(t)
	for _, tt := range []struct {
		sig syscall.Signal
		how string
	}{
		{syscall.SIGKILL, "signal: killed"},
		{syscall.SIGABRT, "signal: aborted"},
	} {
		t.Run(tt.sig.String(), func(t *testing.T) {
			f := setup(t)
			svc, logs := workerStorage(t, f, c, worker.Options{})
			p := serve(t, proxy.Services{Instance: f.svc, Storage: svc}, proxy.Options{})
			ctx := t.Context()

			const clients = 16
			var (
				mu        sync.Mutex
				ok        int
				errs      []error
				killed    bool
				okAfter   = map[int]bool{} // clients whose call after the kill succeeded
				recovered = make(chan struct{})
				warm      = make(chan struct{})
			)
			var wg sync.WaitGroup
			for i := range clients {
				proto := protocols[i%len(protocols)]
				client := storagev1connect.NewStorageServiceClient(proto.client, p.url, proto.opts...)
				wg.Go(func() {
					for ctx.Err() == nil {
						mu.Lock()
						startedAfterKill := killed
						mu.Unlock()
						var err error
						if i%2 == 0 {
							_, err = client.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{PoolName: c.Pool}))
						} else {
							_, err = client.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{}))
						}
						mu.Lock()
						switch {
						case err != nil:
							errs = append(errs, fmt.Errorf("client %d (%s): %w", i, proto.name, err))
						case startedAfterKill && len(errs) > 0:
							okAfter[i] = true
							if len(okAfter) == clients {
								close(recovered)
							}
						default:
							if ok++; ok == 2*clients {
								close(warm)
							}
						}
						done := okAfter[i]
						mu.Unlock()
						if done {
							return
						}
					}
				})
			}
			select {
			case <-warm:
			case <-time.After(2 * time.Minute):
				t.Fatalf("the calls did not get going: %v", errs)
			}
			pid := onlyWorker(t)
			mu.Lock()
			killed = true
			mu.Unlock()
			if err := syscall.Kill(pid, tt.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-recovered:
			case <-time.After(2 * time.Minute):
				mu.Lock()
				t.Errorf("only %d of %d clients had a call succeed after the kill", len(okAfter), clients)
				mu.Unlock()
			}
			wg.Wait()

			if len(errs) == 0 {
				t.Fatalf("no call was in flight when the worker was killed (%d calls before)", ok)
			}
			for _, err := range errs {
				if connect.CodeOf(err) != connect.CodeUnavailable {
					t.Errorf("%v, want unavailable", err)
					continue
				}
				for _, want := range []string{fmt.Sprintf("the Ceph worker (otterscale-ceph, pid %d)", pid), "crashed during otterscale.storage.v1.StorageService/ListImages", tt.how, "a new worker serves the next call"} {
					if !strings.Contains(errMessage(err), want) {
						t.Errorf("%v does not say %q", err, want)
					}
				}
			}
			t.Logf("%d calls in flight answered: %v", len(errs), errs[0])
			if after := onlyWorker(t); after == pid {
				t.Errorf("the killed worker %d still runs", pid)
			}
			if n := strings.Count(logs.String(), "Ceph worker died"); n != 1 || !strings.Contains(logs.String(), tt.how) {
				t.Errorf("the log says %d deaths, want 1 with %q:\n%s", n, tt.how, logs)
			}
			// The proxy itself is fine: a different service answers too.
			if _, err := storagev1connect.NewStorageServiceClient(http1, p.url, connect.WithProtoJSON()).
				ListImageSnapshots(ctx, connect.NewRequest(&storagev1.ListImageSnapshotsRequest{PoolName: c.Pool, ImageName: "no-such-image"})); connect.CodeOf(err) != connect.CodeNotFound {
				t.Errorf("after the crash: %v, want not_found", err)
			}
		})
	}
}

// A Ceph call that hangs (the OSD stopped with SIGSTOP) ends unavailable
// with a message saying so: at the Pool's call timeout when it is shorter
// than librados' op timeout, else at librados' own. Another cluster's
// worker in the same Pool serves meanwhile, and once the OSD is back the
// first cluster works again.
func TestCephCallHangs(t *testing.T) {
	c := cephenv.Require(t)
	ctx := t.Context()
	start, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	other, err := cephenv.Start(start, cephenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Stop() })

	logs := &logBuffer{}
	const callTimeout = 3 * time.Second
	shared := worker.NewPool(worker.Options{CallTimeout: callTimeout, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	// Librados' op timeout (10 s) is longer than the Pool's call timeout.
	paused := flagStorage(t, c, 10*time.Second, shared)
	fine := flagStorage(t, other, 10*time.Second, shared)
	// The default call timeout (12 × 2 s) is longer than librados' op
	// timeout.
	byLibrados := flagStorage(t, c, 2*time.Second, worker.NewPool(worker.Options{}))

	list := func(svc *storage.Service, pool string) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		_, err := svc.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{PoolName: pool}))
		return err
	}
	for name, svc := range map[string]*storage.Service{"paused": paused, "fine": fine, "byLibrados": byLibrados} {
		if err := list(svc, c.Pool); err != nil {
			t.Fatalf("%s before the OSD stops: %v", name, err)
		}
	}

	if err := c.PauseOSD(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.ResumeOSD(); err != nil {
			t.Error(err)
		}
	})

	t.Run("the Pool's call timeout", func(t *testing.T) {
		hung := make(chan error, 1)
		begin := time.Now()
		go func() { hung <- list(paused, c.Pool) }()
		// The other cluster answers while the first one's call hangs.
		for range 3 {
			if err := list(fine, other.Pool); err != nil {
				t.Errorf("the other cluster while the first hangs: %v", err)
			}
		}
		err := <-hung
		took := time.Since(begin)
		if connect.CodeOf(err) != connect.CodeUnavailable {
			t.Fatalf("the hung call: %v, want unavailable", err)
		}
		for _, want := range []string{"did not answer within 3s", "a Ceph call hung", "is the cluster healthy?", "a new worker serves the next call"} {
			if !strings.Contains(errMessage(err), want) {
				t.Errorf("%v does not say %q", err, want)
			}
		}
		// Bounded by the Pool, not by librados' 10 s: a loose bound, as
		// the machine may be busy.
		if took > callTimeout+20*time.Second {
			t.Errorf("the hung call took %s to end, with a call timeout of %s", took, callTimeout)
		}
		if err := list(fine, other.Pool); err != nil {
			t.Errorf("the other cluster after the first's worker was stopped: %v", err)
		}
		if !strings.Contains(logs.String(), "Ceph call hung") {
			t.Errorf("the log does not say that a call hung:\n%s", logs)
		}
	})

	t.Run("librados' op timeout", func(t *testing.T) {
		err := list(byLibrados, c.Pool)
		if connect.CodeOf(err) != connect.CodeUnavailable {
			t.Fatalf("the hung call: %v, want unavailable", err)
		}
		if msg := errMessage(err); !strings.Contains(msg, "timed out") || strings.Contains(msg, "did not answer within") {
			t.Errorf("%v does not say that Ceph timed out (librados' timeout, before the Pool's)", err)
		}
		t.Logf("%v", err)
	})

	if err := c.ResumeOSD(); err != nil {
		t.Fatal(err)
	}
	for name, svc := range map[string]*storage.Service{"paused": paused, "fine": fine, "byLibrados": byLibrados} {
		if err := list(svc, c.Pool); err != nil {
			t.Errorf("%s after the OSD is back: %v", name, err)
		}
	}
	if got := logs.String(); strings.Contains(got, c.AdminKey) || strings.Contains(got, other.AdminKey) {
		t.Error("a key is in the Pool's log")
	}
}
