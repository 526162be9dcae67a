package storage_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

const mib = 1 << 20

// duLine is one image or snapshot line of `rbd du --format json`.
type duLine struct {
	Name        string `json:"name"`
	Snapshot    string `json:"snapshot"`
	Provisioned uint64 `json:"provisioned_size"`
	Used        uint64 `json:"used_size"`
}

// rbdDU maps each snapshot's name to its line; "" is the image's head and
// "<TOTAL>" the sum of all lines, the total that rbd du prints in its
// table (its JSON for one image leaves it out).
func rbdDU(t *testing.T, c *cephenv.Cluster, image string) map[string]duLine {
	t.Helper()
	var out struct {
		Images []duLine `json:"images"`
	}
	rbdJSON(t, c, &out, "du", c.Pool+"/"+image)
	lines := map[string]duLine{}
	var total uint64
	for _, l := range out.Images {
		lines[l.Snapshot] = l
		total += l.Used
	}
	lines["<TOTAL>"] = duLine{Used: total}
	return lines
}

type snapLine struct {
	Name      string `json:"name"`
	Size      uint64 `json:"size"`
	Protected string `json:"protected"`
}

func rbdSnaps(t *testing.T, c *cephenv.Cluster, image string) []snapLine {
	t.Helper()
	var out []snapLine
	rbdJSON(t, c, &out, "snap", "ls", c.Pool+"/"+image)
	return out
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func TestSnapshotLifecycle(t *testing.T) {
	c := cephenv.Require(t)
	ctx := t.Context()
	svc := adminService(t, c)
	if err := c.CreateImage(ctx, "life", 64*mib); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteImage(ctx, "life", 0, fill(6*mib, 1)); err != nil {
		t.Fatal(err)
	}
	ref := func(snap string) (string, string, string) { return c.Pool, "life", snap }

	create := func(snap string) *storagev1.Image_Snapshot {
		t.Helper()
		p, i, s := ref(snap)
		resp, err := svc.CreateImageSnapshot(ctx, connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: p, ImageName: i, SnapshotName: s}))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg
	}
	s1 := create("s1")
	var err error
	// Written since: 2 MiB into a new object range.
	if err := c.WriteImage(ctx, "life", 30*mib, fill(2*mib, 2)); err != nil {
		t.Fatal(err)
	}
	s2 := create("s2")

	// The answer is the snapshot as Ceph reports it, checked with rbd.
	du := rbdDU(t, c, "life")
	for _, s := range []*storagev1.Image_Snapshot{s1, s2} {
		if s.GetQuotaBytes() != 64*mib || s.GetProtected() {
			t.Errorf("%s: %v", s.GetName(), s)
		}
		if want := du[s.GetName()].Used; s.GetUsedBytes() != want || want == 0 {
			t.Errorf("%s used %d bytes, rbd du says %d", s.GetName(), s.GetUsedBytes(), want)
		}
	}

	// Listing one image's snapshots, oldest first, as rbd snap ls has them.
	list, err := svc.ListImageSnapshots(ctx, connect.NewRequest(&storagev1.ListImageSnapshotsRequest{PoolName: c.Pool, ImageName: "life"}))
	if err != nil {
		t.Fatal(err)
	}
	snaps := rbdSnaps(t, c, "life")
	if len(list.Msg.GetSnapshots()) != len(snaps) || len(snaps) != 2 {
		t.Fatalf("listed %v, rbd has %v", list.Msg.GetSnapshots(), snaps)
	}
	for i, s := range list.Msg.GetSnapshots() {
		if s.GetName() != snaps[i].Name || s.GetQuotaBytes() != snaps[i].Size || s.GetUsedBytes() != du[s.GetName()].Used {
			t.Errorf("snapshot %d: %v; rbd: %+v, du %d", i, s, snaps[i], du[s.GetName()].Used)
		}
	}

	op := func(call func(*connect.Request[storagev1.ProtectImageSnapshotRequest]) error, snap string) error {
		p, i, s := ref(snap)
		return call(connect.NewRequest(&storagev1.ProtectImageSnapshotRequest{PoolName: p, ImageName: i, SnapshotName: s}))
	}
	protect := func(r *connect.Request[storagev1.ProtectImageSnapshotRequest]) error {
		_, err := svc.ProtectImageSnapshot(ctx, r)
		return err
	}
	unprotect := func(r *connect.Request[storagev1.ProtectImageSnapshotRequest]) error {
		_, err := svc.UnprotectImageSnapshot(ctx, connect.NewRequest(&storagev1.UnprotectImageSnapshotRequest{PoolName: r.Msg.PoolName, ImageName: r.Msg.ImageName, SnapshotName: r.Msg.SnapshotName}))
		return err
	}
	del := func(r *connect.Request[storagev1.ProtectImageSnapshotRequest]) error {
		_, err := svc.DeleteImageSnapshot(ctx, connect.NewRequest(&storagev1.DeleteImageSnapshotRequest{PoolName: r.Msg.PoolName, ImageName: r.Msg.ImageName, SnapshotName: r.Msg.SnapshotName}))
		return err
	}
	rollback := func(r *connect.Request[storagev1.ProtectImageSnapshotRequest]) error {
		_, err := svc.RollbackImageSnapshot(ctx, connect.NewRequest(&storagev1.RollbackImageSnapshotRequest{PoolName: r.Msg.PoolName, ImageName: r.Msg.ImageName, SnapshotName: r.Msg.SnapshotName}))
		return err
	}

	if err := op(protect, "s1"); err != nil {
		t.Fatal(err)
	}
	if got := rbdSnaps(t, c, "life")[0].Protected; got != "true" {
		t.Errorf("rbd says s1 protected = %q", got)
	}
	wantCode(t, op(protect, "s1"), connect.CodeFailedPrecondition)
	err = op(del, "s1")
	wantCode(t, err, connect.CodeFailedPrecondition)
	if !strings.Contains(message(err), "unprotect it first") {
		t.Errorf("message %q does not say what to do", message(err))
	}

	// A clone of a protected snapshot keeps it protected.
	if _, err := c.RBD(ctx, "clone", c.Pool+"/life@s1", c.Pool+"/life-clone"); err != nil {
		t.Fatal(err)
	}
	err = op(unprotect, "s1")
	wantCode(t, err, connect.CodeFailedPrecondition)
	if !strings.Contains(message(err), c.Pool+"/life-clone") || !strings.Contains(message(err), "flatten") {
		t.Errorf("message %q does not name the clone and what to do", message(err))
	}
	if _, err := c.RBD(ctx, "rm", "--no-progress", c.Pool+"/life-clone"); err != nil {
		t.Fatal(err)
	}
	if err := op(unprotect, "s1"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, op(unprotect, "s1"), connect.CodeFailedPrecondition)

	// Rollback refuses while another client watches the image (a VM would),
	// and works once it has gone.
	watch := exec.CommandContext(ctx, "rbd", "-c", c.Conf, "watch", c.Pool+"/life")
	// rbd watch runs until its standard input ends.
	stdin, err := watch.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	waitWatchers(t, c, "life", 1)
	err = op(rollback, "s1")
	wantCode(t, err, connect.CodeFailedPrecondition)
	if !strings.Contains(message(err), "in use") {
		t.Errorf("message %q", message(err))
	}
	// Ending its input lets rbd watch unwatch; a killed watcher would linger
	// until the OSD times it out.
	_ = stdin.Close()
	_ = watch.Wait()
	waitWatchers(t, c, "life", 0)
	if err := op(rollback, "s1"); err != nil {
		t.Fatal(err)
	}
	if out, err := c.RBD(ctx, "diff", "--from-snap", "s1", c.Pool+"/life", "--format", "json"); err != nil || strings.TrimSpace(string(out)) != "[]" {
		t.Errorf("after rollback the image differs from s1: %s %v", out, err)
	}

	// Deleting, then the errors for what is not there or already is.
	if err := op(del, "s2"); err != nil {
		t.Fatal(err)
	}
	if names := rbdSnaps(t, c, "life"); len(names) != 1 || names[0].Name != "s1" {
		t.Errorf("rbd snap ls after delete: %+v", names)
	}
	wantCode(t, op(del, "s2"), connect.CodeNotFound)
	_, err = svc.CreateImageSnapshot(ctx, connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: c.Pool, ImageName: "life", SnapshotName: "s1"}))
	wantCode(t, err, connect.CodeAlreadyExists)
	_, err = svc.CreateImageSnapshot(ctx, connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: c.Pool, ImageName: "nope", SnapshotName: "s1"}))
	wantCode(t, err, connect.CodeNotFound)
	_, err = svc.CreateImageSnapshot(ctx, connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: "no-pool", ImageName: "life", SnapshotName: "s1"}))
	wantCode(t, err, connect.CodeNotFound)
	if !strings.Contains(message(err), `pool "no-pool" not found`) {
		t.Errorf("message %q", message(err))
	}
}

// waitWatchers waits until rbd status shows n watchers.
func waitWatchers(t *testing.T, c *cephenv.Cluster, image string, n int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		var st struct {
			Watchers []any `json:"watchers"`
		}
		rbdJSON(t, c, &st, "status", c.Pool+"/"+image)
		if len(st.Watchers) == n {
			return
		}
		sleep(t)
	}
	t.Fatalf("image %s never had %d watchers", image, n)
}

func TestListImages(t *testing.T) {
	c := cephenv.Require(t)
	ctx := t.Context()
	svc := adminService(t, c)
	// One image with every feature, one with layering only (no object map,
	// no fast-diff: used bytes must still match rbd du).
	if err := c.CreateImage(ctx, "full", 32*mib); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateImage(ctx, "plain", 16*mib, "layering"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"full", "plain"} {
		if err := c.WriteImage(ctx, name, 1*mib, fill(3*mib, 7)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.RBD(ctx, "snap", "create", c.Pool+"/"+name+"@a"); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteImage(ctx, name, 9*mib, fill(1*mib, 8)); err != nil {
			t.Fatal(err)
		}
	}
	for _, pool := range []string{"", c.Pool} {
		resp, err := svc.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{PoolName: pool}))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*storagev1.Image{}
		for _, img := range resp.Msg.GetImages() {
			got[img.GetName()] = img
		}
		for _, name := range []string{"full", "plain"} {
			img := got[name]
			if img == nil {
				t.Fatalf("pool %q: %s missing from %v", pool, name, resp.Msg.GetImages())
			}
			var info struct {
				Size        uint64   `json:"size"`
				Objects     uint64   `json:"objects"`
				ObjectSize  uint64   `json:"object_size"`
				Features    []string `json:"features"`
				StripeUnit  uint64   `json:"stripe_unit"`
				StripeCount uint64   `json:"stripe_count"`
			}
			rbdJSON(t, c, &info, "info", c.Pool+"/"+name)
			du := rbdDU(t, c, name)
			has := func(f string) bool {
				for _, x := range info.Features {
					if x == f {
						return true
					}
				}
				return false
			}
			if img.GetPoolName() != c.Pool || img.GetQuotaBytes() != info.Size || img.GetObjectCount() != info.Objects ||
				img.GetObjectSizeBytes() != info.ObjectSize || img.GetCreatedAt() == nil {
				t.Errorf("%s: %v; rbd info %+v", name, img, info)
			}
			if info.StripeUnit != 0 && (img.GetStripeUnitBytes() != info.StripeUnit || img.GetStripeCount() != info.StripeCount) {
				t.Errorf("%s striping %d/%d; rbd info %+v", name, img.GetStripeUnitBytes(), img.GetStripeCount(), info)
			}
			if img.GetLayering() != has("layering") || img.GetExclusiveLock() != has("exclusive-lock") || img.GetObjectMap() != has("object-map") ||
				img.GetFastDiff() != has("fast-diff") || img.GetDeepFlatten() != has("deep-flatten") {
				t.Errorf("%s features %v; rbd info %v", name, img, info.Features)
			}
			if img.GetUsedBytes() != du["<TOTAL>"].Used || du[""].Used == 0 || du["<TOTAL>"].Used <= du[""].Used {
				t.Errorf("%s used %d, rbd du total %d (head %d)", name, img.GetUsedBytes(), du["<TOTAL>"].Used, du[""].Used)
			}
			if len(img.GetSnapshots()) != 1 || img.GetSnapshots()[0].GetUsedBytes() != du["a"].Used {
				t.Errorf("%s snapshots %v, rbd du %v", name, img.GetSnapshots(), du)
			}
		}
		if name := "plain"; got[name].GetFastDiff() || got[name].GetObjectMap() {
			t.Errorf("plain has fast-diff: %v", got[name])
		}
	}
	_, err := svc.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{PoolName: "no-pool"}))
	wantCode(t, err, connect.CodeNotFound)
}

// Bad names are refused before any call to Ceph: the service here points
// at an address where nothing listens, so reaching Ceph would time out.
func TestBadNamesNeverReachCeph(t *testing.T) {
	svc := storage.New(nil, cephconf.Flags{MonHost: "127.0.0.1:1", KeyFile: keyFile(t, "QVFEdW1teWtleWR1bW15a2V5ZHVtbXlrZXk9PQ=="), Timeout: 1})
	defer svc.Close()
	long := strings.Repeat("x", storage.MaxNameLength+1)
	for _, tt := range []struct{ pool, image, snap, field string }{
		{"", "img", "s", "pool_name"},
		{"rbd", "", "s", "image_name"},
		{"rbd", "img", "", "snapshot_name"},
		{"rbd/x", "img", "s", "pool_name"},
		{"rbd", "img@x", "s", "image_name"},
		{"rbd", "img", "s/1", "snapshot_name"},
		{"rbd", "img", "s@1", "snapshot_name"},
		{"rbd", long, "s", "image_name"},
		{"rbd", "img", long, "snapshot_name"},
		{"rbd", "img", "a\nb", "snapshot_name"},
		{"rbd", "img", "\xff", "snapshot_name"},
	} {
		_, err := svc.CreateImageSnapshot(t.Context(), connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: tt.pool, ImageName: tt.image, SnapshotName: tt.snap}))
		wantCode(t, err, connect.CodeInvalidArgument)
		if !strings.HasPrefix(message(err), tt.field+": ") {
			t.Errorf("%q/%q@%q: message %q does not name %s", tt.pool, tt.image, tt.snap, message(err), tt.field)
		}
	}
}

// Changes to one image at once, as many clients of one proxy make them:
// of concurrent creates of one name exactly one succeeds and the others
// answer already_exists, and concurrent rollbacks all succeed (librbd
// alone answers ok to every create, and EROFS to rollbacks whose open of
// the image loses its exclusive lock to another).
func TestConcurrentSnapshotChanges(t *testing.T) {
	c := cephenv.Require(t)
	ctx := t.Context()
	svc := adminService(t, c)
	if err := c.CreateImage(ctx, "busy", 8*mib); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RBD(ctx, "snap", "create", c.Pool+"/busy@base"); err != nil {
		t.Fatal(err)
	}
	const n = 6
	for round := range 3 {
		name := fmt.Sprintf("same-%d", round)
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := svc.CreateImageSnapshot(ctx, connect.NewRequest(&storagev1.CreateImageSnapshotRequest{PoolName: c.Pool, ImageName: "busy", SnapshotName: name}))
				errs <- err
			}()
		}
		ok := 0
		for range n {
			switch err := <-errs; connect.CodeOf(err) {
			case connect.CodeAlreadyExists:
			default:
				if err != nil {
					t.Errorf("create %s: %v, want ok or already_exists", name, err)
					continue
				}
				ok++
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent creates of %s succeeded, want 1", ok, n, name)
		}
	}
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := svc.RollbackImageSnapshot(ctx, connect.NewRequest(&storagev1.RollbackImageSnapshotRequest{PoolName: c.Pool, ImageName: "busy", SnapshotName: "base"}))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent rollback: %v", err)
		}
	}
	if got := rbdSnaps(t, c, "busy"); len(got) != 4 {
		t.Errorf("rbd snap ls: %+v, want base and same-0..2", got)
	}

	// Listings while snapshots are deleted neither fail nor lose the
	// image (librbd lists a snapshot being deleted under a UUID).
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		for round := range 3 {
			name := fmt.Sprintf("same-%d", round)
			if _, err := svc.DeleteImageSnapshot(ctx, connect.NewRequest(&storagev1.DeleteImageSnapshotRequest{PoolName: c.Pool, ImageName: "busy", SnapshotName: name})); err != nil {
				t.Errorf("delete %s: %v", name, err)
			}
		}
	}()
	for done := false; !done; {
		select {
		case <-deleted:
			done = true
		default:
		}
		if _, err := svc.ListImageSnapshots(ctx, connect.NewRequest(&storagev1.ListImageSnapshotsRequest{PoolName: c.Pool, ImageName: "busy"})); err != nil {
			t.Errorf("list snapshots while deleting: %v", err)
		}
		images, err := svc.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{PoolName: c.Pool}))
		if err != nil {
			t.Errorf("list images while deleting: %v", err)
		} else if !slices.ContainsFunc(images.Msg.GetImages(), func(i *storagev1.Image) bool { return i.GetName() == "busy" }) {
			t.Error("an image whose snapshot was being deleted is missing from the listing")
		}
	}
}
