package proxy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// images is `rbd ls` of the test pool.
func images(t *testing.T, c *cephenv.Cluster) []string {
	t.Helper()
	out, err := c.RBD(t.Context(), "ls", c.Pool, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := json.Unmarshal(out, &names); err != nil {
		t.Fatal(err)
	}
	return names
}

// imageSize is the size `rbd info` reports.
func imageSize(t *testing.T, c *cephenv.Cluster, image string) uint64 {
	t.Helper()
	out, err := c.RBD(t.Context(), "info", c.Pool+"/"+image, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Size uint64 `json:"size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info.Size
}

// ListPools, CreateImage, UpdateImage and DeleteImage through every
// protocol, as the web UI's block-device page calls them, with the real
// Ceph behind the proxy found through the cluster; each result checked
// with the rbd CLI, and the codes of refusals kept on the way through.
func TestStorageImageRPCsEveryProtocol(t *testing.T) {
	f, c := setup(t), cephenv.Require(t)
	p := serve(t, proxy.Services{Instance: f.svc, Storage: rookStorage(t, f, c)}, proxy.Options{})
	const existing = "pxi-existing"
	if err := c.CreateImage(t.Context(), existing, 4<<20); err != nil {
		t.Fatal(err)
	}
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			ctx := t.Context()
			client := storagev1connect.NewStorageServiceClient(proto.client, p.url, proto.opts...)
			pool, image := c.Pool, "pxi-"+proto.name

			pools, err := client.ListPools(ctx, connect.NewRequest(&storagev1.ListPoolsRequest{Application: storagev1.Pool_APPLICATION_BLOCK}))
			if err != nil {
				t.Fatalf("list pools: %v", err)
			}
			if ps := pools.Msg.GetPools(); len(ps) != 1 || ps[0].GetName() != pool || ps[0].GetType() != storagev1.Pool_TYPE_REPLICATED {
				t.Errorf("block pools: %v", ps)
			}

			created, err := client.CreateImage(ctx, connect.NewRequest(&storagev1.CreateImageRequest{
				PoolName: pool, ImageName: image, QuotaBytes: 8 << 20, Layering: true,
			}))
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if created.Msg.GetName() != image || created.Msg.GetQuotaBytes() != 8<<20 || !created.Msg.GetLayering() || created.Msg.GetExclusiveLock() {
				t.Errorf("create answered %v", created.Msg)
			}
			if !slices.Contains(images(t, c), image) || imageSize(t, c, image) != 8<<20 {
				t.Errorf("not in Ceph as created")
			}

			grown, err := client.UpdateImage(ctx, connect.NewRequest(&storagev1.UpdateImageRequest{PoolName: pool, ImageName: image, QuotaBytes: 16 << 20}))
			if err != nil || grown.Msg.GetQuotaBytes() != 16<<20 || imageSize(t, c, image) != 16<<20 {
				t.Errorf("grow: %v %v", grown, err)
			}
			_, err = client.UpdateImage(ctx, connect.NewRequest(&storagev1.UpdateImageRequest{PoolName: pool, ImageName: image, QuotaBytes: 4 << 20}))
			if connect.CodeOf(err) != connect.CodeFailedPrecondition || imageSize(t, c, image) != 16<<20 {
				t.Errorf("shrink without allow_shrink: %v, want failed_precondition and no change", err)
			}
			if _, err := client.UpdateImage(ctx, connect.NewRequest(&storagev1.UpdateImageRequest{PoolName: pool, ImageName: image, QuotaBytes: 4 << 20, AllowShrink: true})); err != nil || imageSize(t, c, image) != 4<<20 {
				t.Errorf("shrink: %v", err)
			}

			if _, err := c.RBD(ctx, "snap", "create", pool+"/"+image+"@s"); err != nil {
				t.Fatal(err)
			}
			_, err = client.DeleteImage(ctx, connect.NewRequest(&storagev1.DeleteImageRequest{PoolName: pool, ImageName: image}))
			if connect.CodeOf(err) != connect.CodeFailedPrecondition || !slices.Contains(images(t, c), image) {
				t.Errorf("delete with a snapshot: %v, want failed_precondition and the image kept", err)
			}
			if _, err := c.RBD(ctx, "snap", "rm", "--no-progress", pool+"/"+image+"@s"); err != nil {
				t.Fatal(err)
			}
			if _, err := client.DeleteImage(ctx, connect.NewRequest(&storagev1.DeleteImageRequest{PoolName: pool, ImageName: image})); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if slices.Contains(images(t, c), image) {
				t.Error("still in rbd ls after delete")
			}

			before := images(t, c)
			for name, tc := range map[string]struct {
				call func() error
				code connect.Code
			}{
				"bad size": {func() error {
					_, err := client.CreateImage(ctx, connect.NewRequest(&storagev1.CreateImageRequest{PoolName: pool, ImageName: image}))
					return err
				}, connect.CodeInvalidArgument},
				"bad features": {func() error {
					_, err := client.CreateImage(ctx, connect.NewRequest(&storagev1.CreateImageRequest{PoolName: pool, ImageName: image, QuotaBytes: 1 << 20, FastDiff: true}))
					return err
				}, connect.CodeInvalidArgument},
				"unknown pool": {func() error {
					_, err := client.CreateImage(ctx, connect.NewRequest(&storagev1.CreateImageRequest{PoolName: "no-pool", ImageName: image, QuotaBytes: 1 << 20}))
					return err
				}, connect.CodeNotFound},
				"exists": {func() error {
					_, err := client.CreateImage(ctx, connect.NewRequest(&storagev1.CreateImageRequest{PoolName: pool, ImageName: existing, QuotaBytes: 1 << 20}))
					return err
				}, connect.CodeAlreadyExists},
				"resize missing": {func() error {
					_, err := client.UpdateImage(ctx, connect.NewRequest(&storagev1.UpdateImageRequest{PoolName: pool, ImageName: "no-such", QuotaBytes: 1 << 20}))
					return err
				}, connect.CodeNotFound},
				"delete missing": {func() error {
					_, err := client.DeleteImage(ctx, connect.NewRequest(&storagev1.DeleteImageRequest{PoolName: pool, ImageName: "no-such"}))
					return err
				}, connect.CodeNotFound},
				"bad application": {func() error {
					_, err := client.ListPools(ctx, connect.NewRequest(&storagev1.ListPoolsRequest{Application: 9}))
					return err
				}, connect.CodeInvalidArgument},
			} {
				if err := tc.call(); connect.CodeOf(err) != tc.code {
					t.Errorf("%s: %v, want %v", name, err, tc.code)
				}
			}
			if after := images(t, c); !slices.Equal(before, after) {
				t.Errorf("refused calls changed rbd ls from %v to %v", before, after)
			}
		})
	}
}

// The web UI's own request, bytes on the wire: Connect JSON with the
// application filter spelled as upstream's enum name, answered with
// upstream's names and every field present, zero or not.
func TestListPoolsAsTheWebUICalls(t *testing.T) {
	f, c := setup(t), cephenv.Require(t)
	p := serve(t, proxy.Services{Instance: f.svc, Storage: rookStorage(t, f, c)}, proxy.Options{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, p.url+storagev1connect.StorageServiceListPoolsProcedure,
		strings.NewReader(`{"scope":"","application":"APPLICATION_BLOCK"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connect-Protocol-Version", "1")
	req.Header.Set("Authorization", "Bearer not-ours")
	ans, body := post(t, http1, req)
	if ans.StatusCode != http.StatusOK {
		t.Fatalf("%d: %s", ans.StatusCode, body)
	}
	var got struct {
		Pools []map[string]any `json:"pools"`
	}
	if err := json.Unmarshal(body, &got); err != nil || len(got.Pools) != 1 {
		t.Fatalf("%s (%v)", body, err)
	}
	pool := got.Pools[0]
	want := map[string]any{"name": c.Pool, "type": "TYPE_REPLICATED", "replicatedSize": "1", "ecOverwrites": false, "usedBytes": "0"}
	for k, v := range want {
		if pool[k] != v {
			t.Errorf("%s = %v, want %v in %s", k, pool[k], v, body)
		}
	}
	if apps, _ := pool["applications"].([]any); len(apps) != 1 || apps[0] != "APPLICATION_BLOCK" {
		t.Errorf("applications %v", pool["applications"])
	}
	for _, k := range []string{"id", "updating", "dataChunks", "codingChunks", "quotaBytes", "quotaObjects", "usedObjects", "maxBytes", "placementGroupCount", "placementGroupState", "createdAt"} {
		if _, ok := pool[k]; !ok {
			t.Errorf("%s missing from %s", k, body)
		}
	}
}

// Many clients through the proxy at once on the new RPCs, on one worker:
// each client creates, grows, shrinks, lists and deletes its own images
// while listing pools, and every round all clients race to create,
// resize and delete one shared name. Every call answers as it should
// (of the racing creates and deletes exactly one succeeds, the others
// answer already_exists or not_found), the worker never dies, and Ceph
// ends with no image the clients deleted.
func TestCephImageAdminLoad(t *testing.T) {
	const clients, rounds = 16, 4
	f, c := setup(t), cephenv.Require(t)
	svc, logs := workerStorage(t, f, c, worker.Options{})
	p := serve(t, proxy.Services{Instance: f.svc, Storage: svc}, proxy.Options{})
	ctx := t.Context()
	stats := &soakStats{calls: map[string]int{}}
	var mu sync.Mutex
	// won counts, per round, the racing creates and deletes that succeeded.
	won := make([][2]int, rounds)
	var wg sync.WaitGroup
	barrier := newBarrier(clients)
	for i := range clients {
		proto := protocols[i%len(protocols)]
		store := storagev1connect.NewStorageServiceClient(proto.client, p.url, proto.opts...)
		wg.Go(func() {
			for n := range rounds {
				own := fmt.Sprintf("ld-%s-%d-%d", f.Namespace, i, n)
				_, err := store.ListPools(ctx, connect.NewRequest(&storagev1.ListPoolsRequest{Application: storagev1.Pool_APPLICATION_BLOCK}))
				stats.record("ListPools", err)
				_, err = store.CreateImage(ctx, connect.NewRequest(&storagev1.CreateImageRequest{PoolName: c.Pool, ImageName: own, QuotaBytes: 4 << 20}))
				stats.record("CreateImage", err)
				_, err = store.UpdateImage(ctx, connect.NewRequest(&storagev1.UpdateImageRequest{PoolName: c.Pool, ImageName: own, QuotaBytes: 8 << 20}))
				stats.record("UpdateImage (grow)", err)
				_, err = store.UpdateImage(ctx, connect.NewRequest(&storagev1.UpdateImageRequest{PoolName: c.Pool, ImageName: own, QuotaBytes: 2 << 20, AllowShrink: true}))
				stats.record("UpdateImage (shrink)", err)
				_, err = store.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{PoolName: c.Pool}))
				stats.record("ListImages", err)
				_, err = store.DeleteImage(ctx, connect.NewRequest(&storagev1.DeleteImageRequest{PoolName: c.Pool, ImageName: own}))
				stats.record("DeleteImage", err)

				// All clients on one name at once.
				shared := fmt.Sprintf("ld-%s-shared-%d", f.Namespace, n)
				barrier.wait()
				_, cerr := store.CreateImage(ctx, connect.NewRequest(&storagev1.CreateImageRequest{PoolName: c.Pool, ImageName: shared, QuotaBytes: 4 << 20}))
				barrier.wait()
				_, rerr := store.UpdateImage(ctx, connect.NewRequest(&storagev1.UpdateImageRequest{PoolName: c.Pool, ImageName: shared, QuotaBytes: uint64(4+i) << 20, AllowShrink: true}))
				stats.record("UpdateImage (shared)", rerr)
				barrier.wait()
				_, derr := store.DeleteImage(ctx, connect.NewRequest(&storagev1.DeleteImageRequest{PoolName: c.Pool, ImageName: shared}))
				mu.Lock()
				if cerr == nil {
					won[n][0]++
				}
				if derr == nil {
					won[n][1]++
				}
				if cerr != nil && connect.CodeOf(cerr) != connect.CodeAlreadyExists {
					stats.errs = append(stats.errs, "CreateImage (shared): "+cerr.Error())
				}
				if derr != nil && connect.CodeOf(derr) != connect.CodeNotFound {
					stats.errs = append(stats.errs, "DeleteImage (shared): "+derr.Error())
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range stats.calls {
		total += n
	}
	t.Logf("%d clients, %d rounds: %d calls (%v)", clients, rounds, total, stats.calls)
	if n := len(stats.errs); n > 0 {
		t.Errorf("%d calls failed, want none; the first:\n  %s", n, strings.Join(stats.errs[:min(n, 10)], "\n  "))
	}
	for n, w := range won {
		if w != [2]int{1, 1} {
			t.Errorf("round %d: %d of %d racing creates and %d deletes succeeded, want 1 each", n, w[0], clients, w[1])
		}
	}
	l := logs.String()
	if started := strings.Count(l, "Ceph worker started"); started != 1 || strings.Contains(l, "died") || strings.Contains(l, "hung") {
		t.Errorf("the Ceph worker died or was stopped (%d started); the Pool's log:\n%s", started, l)
	}
	for _, name := range images(t, c) {
		if strings.HasPrefix(name, "ld-"+f.Namespace) {
			t.Errorf("%s is still in Ceph", name)
		}
	}
}

// barrier lets n goroutines go on together, again and again.
type barrier struct {
	mu    sync.Mutex
	n     int
	count int
	gen   chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, gen: make(chan struct{})} }

func (b *barrier) wait() {
	b.mu.Lock()
	gen := b.gen
	b.count++
	if b.count == b.n {
		b.count = 0
		b.gen = make(chan struct{})
		close(gen)
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	<-gen
}
