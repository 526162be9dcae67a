package proxy_test

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// The soak's length and width: short in `make test`, which shares the
// machine; the bench sets OTTERSCALE_SOAK_DURATION=60s.
const (
	soakDurationEnv     = "OTTERSCALE_SOAK_DURATION"
	soakClientsEnv      = "OTTERSCALE_SOAK_CLIENTS"
	soakDefaultDuration = 12 * time.Second
	soakDefaultClients  = 64
)

func soakSettings(t *testing.T) (time.Duration, int) {
	t.Helper()
	d, n := soakDefaultDuration, soakDefaultClients
	if v := os.Getenv(soakDurationEnv); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			t.Fatalf("$%s=%q is not a duration", soakDurationEnv, v)
		}
	}
	if v := os.Getenv(soakClientsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2 {
			t.Fatalf("$%s=%q is not a number of clients (2 or more)", soakClientsEnv, v)
		}
	}
	return d, n
}

// soakStats counts calls and keeps the errors, by operation.
type soakStats struct {
	mu    sync.Mutex
	calls map[string]int
	errs  []string
}

func (s *soakStats) record(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	if err != nil {
		s.errs = append(s.errs, op+": "+err.Error())
	}
}

// Many clients through the proxy at once, every StorageService RPC and
// InstanceService's reads mixed, all on one image where snapshots are
// created, protected, unprotected and deleted while others list it and
// its pool (what made librbd abort the proxy before the worker), plus
// rollbacks of an image nobody uses. Every call succeeds, the one Ceph
// worker never dies, Ceph has exactly the snapshots the clients created
// and did not delete, and of two concurrent creates of one name exactly
// one succeeds, the other answering already_exists.
func TestCephSoak(t *testing.T) {
	duration, clients := soakSettings(t)
	f, c := setup(t), cephenv.Require(t)
	svc, logs := workerStorage(t, f, c, worker.Options{})
	p := serve(t, proxy.Services{Instance: f.svc, Storage: svc}, proxy.Options{})
	ctx := t.Context()

	shared, rb := "soak-"+f.Namespace, "soak-rb-"+f.Namespace
	for _, image := range []string{shared, rb} {
		if err := c.CreateImage(ctx, image, 8<<20); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteImage(ctx, image, 0, []byte(strings.Repeat("soak", 1024))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.RBD(ctx, "snap", "create", c.Pool+"/"+rb+"@base"); err != nil {
		t.Fatal(err)
	}
	setupClient := instancev1connect.NewInstanceServiceClient(http1, p.url, connect.WithProtoJSON())
	if _, err := setupClient.CreateDataVolume(ctx, connect.NewRequest(&instancev1.CreateDataVolumeRequest{
		Name: "soak", Namespace: f.Namespace, SizeBytes: 1 << 30, StorageClass: "ceph-block",
	})); err != nil {
		t.Fatal(err)
	}

	stats := &soakStats{calls: map[string]int{}}
	var (
		mu      sync.Mutex
		alive   = map[string]bool{} // created and not deleted
		deleted = map[string]bool{}
		dups    []string // what went wrong with concurrent creates of one name
	)
	deadline := time.Now().Add(duration)
	begin := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		proto := protocols[i%len(protocols)]
		store := storagev1connect.NewStorageServiceClient(proto.client, p.url, proto.opts...)
		inst := instancev1connect.NewInstanceServiceClient(proto.client, p.url, proto.opts...)
		wg.Go(func() {
			var mine []string // this client's snapshots, oldest first
			create := func(name string) error {
				_, err := store.CreateImageSnapshot(ctx, connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: c.Pool, ImageName: shared, SnapshotName: name}))
				return err
			}
			ops := []func(n int){
				func(int) {
					_, err := store.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{PoolName: c.Pool}))
					stats.record("ListImages", err)
				},
				func(int) {
					_, err := store.ListImageSnapshots(ctx, connect.NewRequest(&storagev1.ListImageSnapshotsRequest{PoolName: c.Pool, ImageName: shared}))
					stats.record("ListImageSnapshots", err)
				},
				func(n int) {
					name := fmt.Sprintf("c%d-%d", i, n)
					err := create(name)
					stats.record("CreateImageSnapshot", err)
					if err == nil {
						mine = append(mine, name)
						mu.Lock()
						alive[name] = true
						mu.Unlock()
					}
				},
				func(int) {
					_, err := inst.ListDataVolumes(ctx, connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: f.Namespace}))
					stats.record("ListDataVolumes", err)
				},
				func(int) {
					if len(mine) == 0 {
						return
					}
					name := mine[len(mine)-1]
					_, err := store.ProtectImageSnapshot(ctx, connect.NewRequest(&storagev1.ProtectImageSnapshotRequest{PoolName: c.Pool, ImageName: shared, SnapshotName: name}))
					stats.record("ProtectImageSnapshot", err)
					_, err = store.UnprotectImageSnapshot(ctx, connect.NewRequest(&storagev1.UnprotectImageSnapshotRequest{PoolName: c.Pool, ImageName: shared, SnapshotName: name}))
					stats.record("UnprotectImageSnapshot", err)
				},
				func(int) {
					_, err := store.RollbackImageSnapshot(ctx, connect.NewRequest(&storagev1.RollbackImageSnapshotRequest{PoolName: c.Pool, ImageName: rb, SnapshotName: "base"}))
					stats.record("RollbackImageSnapshot", err)
				},
				func(int) {
					_, err := inst.GetDataVolume(ctx, connect.NewRequest(&instancev1.GetDataVolumeRequest{Namespace: f.Namespace, Name: "soak"}))
					stats.record("GetDataVolume", err)
				},
				func(n int) {
					// Every other round delete the oldest, so that some of
					// each client's snapshots stay; the clients that start
					// here, with none yet, create one to delete.
					if n%2 == 1 {
						return
					}
					if len(mine) == 0 {
						name := fmt.Sprintf("d%d-%d", i, n)
						err := create(name)
						stats.record("CreateImageSnapshot", err)
						if err != nil {
							return
						}
						mine = append(mine, name)
						mu.Lock()
						alive[name] = true
						mu.Unlock()
					}
					name := mine[0]
					_, err := store.DeleteImageSnapshot(ctx, connect.NewRequest(&storagev1.DeleteImageSnapshotRequest{PoolName: c.Pool, ImageName: shared, SnapshotName: name}))
					stats.record("DeleteImageSnapshot", err)
					if err == nil {
						mine = mine[1:]
						mu.Lock()
						delete(alive, name)
						deleted[name] = true
						mu.Unlock()
					}
				},
				func(n int) {
					// Two creates of one name at once, from two connections.
					if i%4 != 0 {
						return
					}
					name := fmt.Sprintf("dup%d-%d", i, n)
					start := make(chan struct{})
					results := make(chan error, 2)
					for range 2 {
						go func() {
							<-start
							results <- create(name)
						}()
					}
					close(start)
					a, b := <-results, <-results
					stats.record("CreateImageSnapshot (same name twice)", nil)
					codes := []connect.Code{connect.CodeOf(a), connect.CodeOf(b)}
					sort.Slice(codes, func(i, j int) bool { return codes[i] < codes[j] })
					mu.Lock()
					defer mu.Unlock()
					if a == nil || b == nil {
						alive[name] = true
					}
					if (a == nil) == (b == nil) || codes[1] != connect.CodeAlreadyExists {
						dups = append(dups, fmt.Sprintf("%s: %v and %v, want one ok and one already_exists", name, a, b))
					}
				},
			}
			for n := 0; ; n++ {
				for k := range ops {
					if !time.Now().Before(deadline) || ctx.Err() != nil {
						return
					}
					// Each client starts elsewhere in the list, so that
					// every kind of call runs all the time.
					ops[(k+i)%len(ops)](n)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(begin)

	total := 0
	var summary []string
	for op, n := range stats.calls {
		total += n
		summary = append(summary, fmt.Sprintf("%s %d", op, n))
	}
	sort.Strings(summary)
	t.Logf("%d clients, %s: %d calls (%s)", clients, took.Round(time.Millisecond), total, strings.Join(summary, ", "))

	if n := len(stats.errs); n > 0 {
		t.Errorf("%d of %d calls failed, want none; the first:\n  %s", n, total, strings.Join(stats.errs[:min(n, 10)], "\n  "))
	}
	for _, d := range dups {
		t.Error(d)
	}
	l := logs.String()
	if started := strings.Count(l, "Ceph worker started"); started != 1 || strings.Contains(l, "died") || strings.Contains(l, "hung") {
		t.Errorf("the Ceph worker died or was stopped (%d started), want one worker throughout; the Pool's log:\n%s", started, l)
	}
	if strings.Contains(l, c.AdminKey) || strings.Contains(p.logs.String(), c.AdminKey) {
		t.Error("the Ceph key is in a log")
	}

	// What Ceph has is what the clients were answered.
	inCeph := snapshots(t, c, shared)
	var missing, extra, protected []string
	for name := range alive {
		if _, ok := inCeph[name]; !ok {
			missing = append(missing, name)
		}
	}
	for name, prot := range inCeph {
		if !alive[name] {
			extra = append(extra, name)
		}
		if prot {
			protected = append(protected, name)
		}
	}
	if len(missing) > 0 || len(extra) > 0 || len(protected) > 0 {
		sort.Strings(missing)
		sort.Strings(extra)
		t.Errorf("rbd snap ls has %d snapshots: created and missing %v; there but deleted or never answered ok %v; still protected %v",
			len(inCeph), missing, extra, protected)
	}
	for name := range deleted {
		if _, ok := inCeph[name]; ok {
			t.Errorf("deleted snapshot %s is still in Ceph", name)
		}
	}
	if len(alive) == 0 || len(deleted) == 0 {
		t.Errorf("the soak created %d snapshots that stay and deleted %d; want some of each", len(alive), len(deleted))
	}
}
