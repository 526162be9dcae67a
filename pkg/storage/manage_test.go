package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/daemon"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

// cephJSON runs the ceph CLI and decodes its --format json answer.
func cephJSON(t *testing.T, c *cephenv.Cluster, v any, args ...string) {
	t.Helper()
	out, err := c.Ceph(t.Context(), append(args, "--format", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ceph %v: %v\n%s", args, err, out)
	}
}

func ceph(t *testing.T, c *cephenv.Cluster, args ...string) {
	t.Helper()
	if _, err := c.Ceph(t.Context(), args...); err != nil {
		t.Fatal(err)
	}
}

// rbdImages is `rbd ls` of the test pool.
func rbdImages(t *testing.T, c *cephenv.Cluster) []string {
	t.Helper()
	var names []string
	rbdJSON(t, c, &names, "ls", c.Pool)
	return names
}

// imageInfo is what `rbd info --format json` says of an image.
type imageInfo struct {
	Size        uint64   `json:"size"`
	ObjectSize  uint64   `json:"object_size"`
	Order       int      `json:"order"`
	Features    []string `json:"features"`
	StripeUnit  uint64   `json:"stripe_unit"`
	StripeCount uint64   `json:"stripe_count"`
}

func rbdInfo(t *testing.T, c *cephenv.Cluster, image string) imageInfo {
	t.Helper()
	var info imageInfo
	rbdJSON(t, c, &info, "info", c.Pool+"/"+image)
	return info
}

// features names the features an Image message has on, as rbd info does.
func features(img *storagev1.Image) []string {
	var on []string
	for _, f := range []struct {
		name string
		on   bool
	}{
		{"deep-flatten", img.GetDeepFlatten()},
		{"exclusive-lock", img.GetExclusiveLock()},
		{"fast-diff", img.GetFastDiff()},
		{"layering", img.GetLayering()},
		{"object-map", img.GetObjectMap()},
	} {
		if f.on {
			on = append(on, f.name)
		}
	}
	return on
}

// rbdFeatures is rbd info's features without those the API has no field
// for (striping: fancy striping's own bit), sorted.
func rbdFeatures(info imageInfo) []string {
	var out []string
	for _, f := range info.Features {
		if f != "striping" {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// The pools as the monitors list them: a replicated pool enabled for
// CephFS with quotas, an erasure-coded one for RGW (its k and m from its
// profile), and the test's RBD pool; the application filter; and usage
// as `ceph df` has it. This cluster has no ceph-mgr, so `ceph df` lists no
// pool usage and no placement-group states: the answer must say the same
// (zero, empty), not invent figures.
func TestListPools(t *testing.T) {
	c := cephenv.Require(t)
	ctx := t.Context()
	svc := adminService(t, c)
	rep, ec := "lp-rep", "lp-ec"
	ceph(t, c, "osd", "pool", "create", rep, "4", "4", "replicated")
	ceph(t, c, "osd", "pool", "application", "enable", rep, "cephfs")
	ceph(t, c, "osd", "pool", "set-quota", rep, "max_bytes", "10485760")
	ceph(t, c, "osd", "pool", "set-quota", rep, "max_objects", "1000")
	ceph(t, c, "osd", "erasure-code-profile", "set", "lp-k2m1", "k=2", "m=1", "crush-failure-domain=osd")
	ceph(t, c, "osd", "pool", "create", ec, "4", "4", "erasure", "lp-k2m1")
	ceph(t, c, "osd", "pool", "application", "enable", ec, "rgw")
	// The erasure-coded pool's placement groups never become active on one
	// OSD, and librbd calls that visit every pool (listing clones) would
	// wait on them: delete both, with a context that cleanup still has.
	t.Cleanup(func() {
		for _, p := range []string{rep, ec} {
			if _, err := c.Ceph(context.Background(), "osd", "pool", "delete", p, p, "--yes-i-really-really-mean-it"); err != nil {
				t.Error(err)
			}
		}
		if _, err := c.Ceph(context.Background(), "osd", "erasure-code-profile", "rm", "lp-k2m1"); err != nil {
			t.Error(err)
		}
	})

	resp, err := svc.ListPools(ctx, connect.NewRequest(&storagev1.ListPoolsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*storagev1.Pool{}
	for _, p := range resp.Msg.GetPools() {
		got[p.GetName()] = p
	}
	var detail []struct {
		ID         int64                     `json:"pool_id"`
		Name       string                    `json:"pool_name"`
		Type       int                       `json:"type"`
		Size       uint64                    `json:"size"`
		PGNum      uint64                    `json:"pg_num"`
		QuotaBytes uint64                    `json:"quota_max_bytes"`
		QuotaObjs  uint64                    `json:"quota_max_objects"`
		Created    string                    `json:"create_time"`
		Apps       map[string]map[string]any `json:"application_metadata"`
	}
	cephJSON(t, c, &detail, "osd", "pool", "ls", "detail")
	if len(got) != len(detail) {
		t.Errorf("listed %d pools, ceph osd pool ls has %d", len(got), len(detail))
	}
	var df struct {
		Pools []struct {
			Name  string `json:"name"`
			Stats struct {
				Stored   uint64 `json:"stored"`
				Objects  uint64 `json:"objects"`
				MaxAvail uint64 `json:"max_avail"`
			} `json:"stats"`
		} `json:"pools"`
	}
	cephJSON(t, c, &df, "df")
	for _, d := range detail {
		p := got[d.Name]
		if p == nil {
			t.Errorf("pool %s missing from %v", d.Name, resp.Msg.GetPools())
			continue
		}
		if p.GetId() != d.ID || p.GetPlacementGroupCount() != d.PGNum || p.GetQuotaBytes() != d.QuotaBytes ||
			p.GetQuotaObjects() != d.QuotaObjs || p.GetUpdating() {
			t.Errorf("%s: %v; ceph says %+v", d.Name, p, d)
		}
		if p.GetCreatedAt() == nil || !strings.HasPrefix(d.Created, p.GetCreatedAt().AsTime().UTC().Format("2006-01-02T15:04:05")) {
			t.Errorf("%s created %v, ceph says %s", d.Name, p.GetCreatedAt().AsTime(), d.Created)
		}
		var stored, objects, avail uint64
		for _, s := range df.Pools {
			if s.Name == d.Name {
				stored, objects, avail = s.Stats.Stored, s.Stats.Objects, s.Stats.MaxAvail
			}
		}
		if p.GetUsedBytes() != stored || p.GetUsedObjects() != objects || p.GetMaxBytes() != avail {
			t.Errorf("%s usage %d bytes, %d objects, %d available; ceph df: %d, %d, %d", d.Name,
				p.GetUsedBytes(), p.GetUsedObjects(), p.GetMaxBytes(), stored, objects, avail)
		}
		// No ceph-mgr here: ceph pg dump has nothing to say.
		if len(p.GetPlacementGroupState()) != 0 {
			t.Errorf("%s: placement group states %v without a ceph-mgr", d.Name, p.GetPlacementGroupState())
		}
	}
	if p := got[rep]; p.GetType() != storagev1.Pool_TYPE_REPLICATED || p.GetReplicatedSize() != 1 ||
		p.GetQuotaBytes() != 10485760 || p.GetQuotaObjects() != 1000 ||
		!slices.Equal(p.GetApplications(), []storagev1.Pool_Application{storagev1.Pool_APPLICATION_FILE}) {
		t.Errorf("%s: %v", rep, p)
	}
	// memstore OSDs refuse allow_ec_overwrites, so it stays off here.
	if p := got[ec]; p.GetType() != storagev1.Pool_TYPE_ERASURE || p.GetDataChunks() != 2 || p.GetCodingChunks() != 1 ||
		p.GetEcOverwrites() || p.GetReplicatedSize() != 0 ||
		!slices.Equal(p.GetApplications(), []storagev1.Pool_Application{storagev1.Pool_APPLICATION_OBJECT}) {
		t.Errorf("%s: %v", ec, p)
	}
	if p := got[c.Pool]; !slices.Equal(p.GetApplications(), []storagev1.Pool_Application{storagev1.Pool_APPLICATION_BLOCK}) {
		t.Errorf("%s: %v", c.Pool, p)
	}

	// The application filter, as the web UI's block-device page asks.
	for app, want := range map[storagev1.Pool_Application]string{
		storagev1.Pool_APPLICATION_BLOCK:  c.Pool,
		storagev1.Pool_APPLICATION_FILE:   rep,
		storagev1.Pool_APPLICATION_OBJECT: ec,
	} {
		resp, err := svc.ListPools(ctx, connect.NewRequest(&storagev1.ListPoolsRequest{Application: app}))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range resp.Msg.GetPools() {
			names = append(names, p.GetName())
		}
		if !slices.Equal(names, []string{want}) {
			t.Errorf("%v: %v, want [%s]", app, names, want)
		}
	}
	// ceph-csi's user (mon 'profile rbd') may list pools and read ceph df
	// but not ask whether a ceph-mgr runs: the same pools, no PG states.
	csi := storage.New(nil, cephconf.Flags{MonHost: c.MonHost, KeyFile: keyFile(t, c.UserKey), User: c.User})
	t.Cleanup(csi.Close)
	byCSI, err := csi.ListPools(ctx, connect.NewRequest(&storagev1.ListPoolsRequest{Application: storagev1.Pool_APPLICATION_BLOCK}))
	if err != nil {
		t.Fatalf("client.%s: %v", c.User, err)
	}
	if ps := byCSI.Msg.GetPools(); len(ps) != 1 || ps[0].GetName() != c.Pool || ps[0].GetReplicatedSize() != 1 {
		t.Errorf("client.%s: %v", c.User, ps)
	}

	_, err = svc.ListPools(ctx, connect.NewRequest(&storagev1.ListPoolsRequest{Application: 42}))
	wantCode(t, err, connect.CodeInvalidArgument)
	if !strings.HasPrefix(message(err), "application: ") {
		t.Errorf("message %q does not name the field", message(err))
	}
}

func TestCreateImage(t *testing.T) {
	c := cephenv.Require(t)
	ctx := t.Context()
	svc := adminService(t, c)
	create := func(r *storagev1.CreateImageRequest) (*storagev1.Image, error) {
		if r.PoolName == "" {
			r.PoolName = c.Pool
		}
		resp, err := svc.CreateImage(ctx, connect.NewRequest(r))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}

	// Everything given: the answer and rbd info agree with the request.
	img, err := create(&storagev1.CreateImageRequest{
		ImageName: "ci-full", QuotaBytes: 48 * mib, ObjectSizeBytes: 1 * mib,
		StripeUnitBytes: 64 << 10, StripeCount: 4, Layering: true, ExclusiveLock: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	info := rbdInfo(t, c, "ci-full")
	if info.Size != 48*mib || info.ObjectSize != 1*mib || info.StripeUnit != 64<<10 || info.StripeCount != 4 ||
		!slices.Equal(rbdFeatures(info), []string{"exclusive-lock", "layering"}) {
		t.Errorf("rbd info: %+v", info)
	}
	if img.GetName() != "ci-full" || img.GetPoolName() != c.Pool || img.GetQuotaBytes() != info.Size ||
		img.GetObjectSizeBytes() != info.ObjectSize || img.GetStripeUnitBytes() != 64<<10 || img.GetStripeCount() != 4 ||
		!slices.Equal(features(img), rbdFeatures(info)) || img.GetCreatedAt() == nil || img.GetUsedBytes() != 0 {
		t.Errorf("answered %v; rbd info %+v", img, info)
	}

	// No features asked for: Ceph's defaults, as rbd create gives them.
	img, err = create(&storagev1.CreateImageRequest{ImageName: "ci-default", QuotaBytes: 8 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RBD(ctx, "create", "--size", "8M", c.Pool+"/ci-by-rbd"); err != nil {
		t.Fatal(err)
	}
	info, byRBD := rbdInfo(t, c, "ci-default"), rbdInfo(t, c, "ci-by-rbd")
	if !slices.Equal(rbdFeatures(info), rbdFeatures(byRBD)) || info.ObjectSize != byRBD.ObjectSize ||
		!slices.Equal(features(img), rbdFeatures(info)) {
		t.Errorf("default features %v (answered %v), rbd create's %v", info.Features, features(img), byRBD.Features)
	}

	// Refusals leave nothing behind.
	before := rbdImages(t, c)
	for name, tc := range map[string]struct {
		req   *storagev1.CreateImageRequest
		code  connect.Code
		quote string
	}{
		"exists":         {&storagev1.CreateImageRequest{ImageName: "ci-full", QuotaBytes: 1 * mib}, connect.CodeAlreadyExists, "already exists"},
		"unknown pool":   {&storagev1.CreateImageRequest{PoolName: "no-pool", ImageName: "x", QuotaBytes: 1 * mib}, connect.CodeNotFound, `pool "no-pool" not found`},
		"no size":        {&storagev1.CreateImageRequest{ImageName: "ci-bad"}, connect.CodeInvalidArgument, "quota_bytes: "},
		"odd objects":    {&storagev1.CreateImageRequest{ImageName: "ci-bad", QuotaBytes: 1 * mib, ObjectSizeBytes: 3000}, connect.CodeInvalidArgument, "object_size_bytes: "},
		"unit not a fac": {&storagev1.CreateImageRequest{ImageName: "ci-bad", QuotaBytes: 1 * mib, StripeUnitBytes: 3 << 10, StripeCount: 2}, connect.CodeInvalidArgument, "stripe_unit_bytes: "},
		"object map":     {&storagev1.CreateImageRequest{ImageName: "ci-bad", QuotaBytes: 1 * mib, Layering: true, ObjectMap: true}, connect.CodeInvalidArgument, "object_map: object-map needs exclusive-lock"},
		// Left to Ceph: librbd's object map limit (256 million objects).
		"refused by Ceph": {&storagev1.CreateImageRequest{ImageName: "ci-bad", QuotaBytes: 1 << 50, ObjectSizeBytes: 4 << 10,
			ExclusiveLock: true, ObjectMap: true}, connect.CodeInvalidArgument, "Ceph refused it: image size not compatible with object map"},
		"bad name": {&storagev1.CreateImageRequest{ImageName: "a@b", QuotaBytes: 1 * mib}, connect.CodeInvalidArgument, "image_name: "},
	} {
		_, err := create(tc.req)
		if connect.CodeOf(err) != tc.code || !strings.Contains(message(err), tc.quote) {
			t.Errorf("%s: %v, want %v saying %q", name, err, tc.code, tc.quote)
		}
	}
	if after := rbdImages(t, c); !slices.Equal(before, after) {
		t.Errorf("refused creates changed rbd ls from %v to %v", before, after)
	}
	if info := rbdInfo(t, c, "ci-full"); info.Size != 48*mib {
		t.Errorf("a refused create of an existing name changed it: %+v", info)
	}
}

// watch runs `rbd watch` on an image, as a VM's open image would, until
// the returned function ends it and waits for the watch to go.
func watch(t *testing.T, c *cephenv.Cluster, image string) func() {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "rbd", "-c", c.Conf, "watch", c.Pool+"/"+image)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWatchers(t, c, image, 1)
	done := false
	stop := func() {
		if done {
			return
		}
		done = true
		// Ending its input lets rbd watch unwatch; a killed watcher would
		// linger until the OSD times it out.
		_ = stdin.Close()
		_ = cmd.Wait()
		waitWatchers(t, c, image, 0)
	}
	t.Cleanup(stop)
	return stop
}

func TestResizeImage(t *testing.T) {
	c := cephenv.Require(t)
	ctx := t.Context()
	svc := adminService(t, c)
	if err := c.CreateImage(ctx, "rs", 16*mib); err != nil {
		t.Fatal(err)
	}
	resize := func(size uint64, shrink bool) (*storagev1.Image, error) {
		resp, err := svc.UpdateImage(ctx, connect.NewRequest(&storagev1.UpdateImageRequest{PoolName: c.Pool, ImageName: "rs", QuotaBytes: size, AllowShrink: shrink}))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}
	size := func() uint64 { return rbdInfo(t, c, "rs").Size }

	// Growing is fine while a client uses the image.
	unwatch := watch(t, c, "rs")
	img, err := resize(32*mib, false)
	if err != nil {
		t.Fatal(err)
	}
	if img.GetQuotaBytes() != 32*mib || size() != 32*mib {
		t.Errorf("grown to %d, rbd info says %d", img.GetQuotaBytes(), size())
	}
	// Shrinking: never without allow_shrink, never while in use.
	_, err = resize(8*mib, false)
	wantCode(t, err, connect.CodeFailedPrecondition)
	if !strings.Contains(message(err), "allow_shrink") {
		t.Errorf("message %q does not say how to confirm", message(err))
	}
	_, err = resize(8*mib, true)
	wantCode(t, err, connect.CodeFailedPrecondition)
	if !strings.Contains(message(err), "in use") {
		t.Errorf("message %q", message(err))
	}
	if got := size(); got != 32*mib {
		t.Errorf("refused shrinks changed the size to %d", got)
	}
	unwatch()
	_, err = resize(8*mib, false)
	wantCode(t, err, connect.CodeFailedPrecondition)
	if img, err = resize(8*mib, true); err != nil {
		t.Fatal(err)
	}
	if img.GetQuotaBytes() != 8*mib || size() != 8*mib {
		t.Errorf("shrunk to %d, rbd info says %d", img.GetQuotaBytes(), size())
	}
	// The same size is no change, and not a shrink.
	if _, err := resize(8*mib, false); err != nil {
		t.Errorf("resize to the same size: %v", err)
	}

	_, err = resize(0, true)
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = svc.UpdateImage(ctx, connect.NewRequest(&storagev1.UpdateImageRequest{PoolName: c.Pool, ImageName: "no-such", QuotaBytes: mib}))
	wantCode(t, err, connect.CodeNotFound)
	if got := size(); got != 8*mib {
		t.Errorf("size %d after refusals", got)
	}
}

func TestDeleteImage(t *testing.T) {
	c := cephenv.Require(t)
	ctx := t.Context()
	svc := adminService(t, c)
	del := func(image string) error {
		_, err := svc.DeleteImage(ctx, connect.NewRequest(&storagev1.DeleteImageRequest{PoolName: c.Pool, ImageName: image}))
		return err
	}
	refused := func(image string, quotes ...string) {
		t.Helper()
		err := del(image)
		wantCode(t, err, connect.CodeFailedPrecondition)
		for _, q := range quotes {
			if !strings.Contains(message(err), q) {
				t.Errorf("delete %s: message %q does not say %q", image, message(err), q)
			}
		}
		if !slices.Contains(rbdImages(t, c), image) {
			t.Fatalf("a refused delete deleted %s", image)
		}
	}
	for _, name := range []string{"del-snap", "del-watch", "del-plain"} {
		if err := c.CreateImage(ctx, name, 8*mib); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WriteImage(ctx, "del-plain", 0, fill(mib, 3)); err != nil {
		t.Fatal(err)
	}

	// Snapshots, then a clone of one.
	if _, err := c.RBD(ctx, "snap", "create", c.Pool+"/del-snap@keep"); err != nil {
		t.Fatal(err)
	}
	refused("del-snap", "1 snapshot(s) (keep)", "delete them first")
	if _, err := c.RBD(ctx, "snap", "protect", c.Pool+"/del-snap@keep"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RBD(ctx, "clone", c.Pool+"/del-snap@keep", c.Pool+"/del-clone"); err != nil {
		t.Fatal(err)
	}
	refused("del-snap", "1 clone(s) ("+c.Pool+"/del-clone)", "flatten")
	if got := rbdSnaps(t, c, "del-snap"); len(got) != 1 {
		t.Errorf("snapshots after refused deletes: %+v", got)
	}

	// Users.
	unwatch := watch(t, c, "del-watch")
	refused("del-watch", "in use by 1 client(s)")
	unwatch()

	for _, name := range []string{"del-watch", "del-plain", "del-clone"} {
		if err := del(name); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	for _, name := range []string{"del-watch", "del-plain", "del-clone"} {
		if slices.Contains(rbdImages(t, c), name) {
			t.Errorf("%s is still in rbd ls", name)
		}
	}
	wantCode(t, del("del-plain"), connect.CodeNotFound)
	_, err := svc.DeleteImage(ctx, connect.NewRequest(&storagev1.DeleteImageRequest{PoolName: "no-pool", ImageName: "x"}))
	wantCode(t, err, connect.CodeNotFound)
}

// Bad input to the new image calls is refused before any call to Ceph, as
// in TestBadNamesNeverReachCeph, naming the field and the rule.
func TestBadImageRequestsNeverReachCeph(t *testing.T) {
	svc := storage.New(nil, cephconf.Flags{MonHost: "127.0.0.1:1", KeyFile: keyFile(t, "QVFEdW1teWtleWR1bW15a2V5ZHVtbXlrZXk9PQ=="), Timeout: 1})
	defer svc.Close()
	ctx := t.Context()
	ok := func() *storagev1.CreateImageRequest {
		return &storagev1.CreateImageRequest{PoolName: "rbd", ImageName: "img", QuotaBytes: mib}
	}
	for _, tt := range []struct {
		name  string
		edit  func(r *storagev1.CreateImageRequest)
		field string
	}{
		{"no pool", func(r *storagev1.CreateImageRequest) { r.PoolName = "" }, "pool_name"},
		{"image with /", func(r *storagev1.CreateImageRequest) { r.ImageName = "a/b" }, "image_name"},
		{"zero size", func(r *storagev1.CreateImageRequest) { r.QuotaBytes = 0 }, "quota_bytes"},
		{"object size not a power of two", func(r *storagev1.CreateImageRequest) { r.ObjectSizeBytes = 3 << 20 }, "object_size_bytes"},
		{"object size too small", func(r *storagev1.CreateImageRequest) { r.ObjectSizeBytes = 2048 }, "object_size_bytes"},
		{"object size too large", func(r *storagev1.CreateImageRequest) { r.ObjectSizeBytes = 64 << 20 }, "object_size_bytes"},
		{"stripe unit alone", func(r *storagev1.CreateImageRequest) { r.StripeUnitBytes = 64 << 10 }, "stripe_unit_bytes"},
		{"stripe count alone", func(r *storagev1.CreateImageRequest) { r.StripeCount = 4 }, "stripe_unit_bytes"},
		{"stripe unit not a factor", func(r *storagev1.CreateImageRequest) { r.StripeUnitBytes, r.StripeCount = 3<<20, 2 }, "stripe_unit_bytes"},
		{"object map without exclusive lock", func(r *storagev1.CreateImageRequest) { r.ObjectMap = true }, "object_map"},
		{"fast diff without object map", func(r *storagev1.CreateImageRequest) { r.ExclusiveLock, r.FastDiff = true, true }, "fast_diff"},
	} {
		r := ok()
		tt.edit(r)
		_, err := svc.CreateImage(ctx, connect.NewRequest(r))
		wantCode(t, err, connect.CodeInvalidArgument)
		if !strings.HasPrefix(message(err), tt.field+": ") {
			t.Errorf("%s: message %q does not name %s", tt.name, message(err), tt.field)
		}
	}
	for _, tt := range []struct {
		req   *storagev1.UpdateImageRequest
		field string
	}{
		{&storagev1.UpdateImageRequest{PoolName: "rbd", ImageName: "img"}, "quota_bytes"},
		{&storagev1.UpdateImageRequest{PoolName: "rbd", ImageName: "", QuotaBytes: mib}, "image_name"},
	} {
		_, err := svc.UpdateImage(ctx, connect.NewRequest(tt.req))
		wantCode(t, err, connect.CodeInvalidArgument)
		if !strings.HasPrefix(message(err), tt.field+": ") {
			t.Errorf("%v: message %q does not name %s", tt.req, message(err), tt.field)
		}
	}
	_, err := svc.DeleteImage(ctx, connect.NewRequest(&storagev1.DeleteImageRequest{PoolName: "rbd@x", ImageName: "img"}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = svc.ListPools(ctx, connect.NewRequest(&storagev1.ListPoolsRequest{Application: storagev1.Pool_Application(-1)}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

// The figures only a ceph-mgr has, on a cluster of the test's own that
// runs one: each pool's usage equals `ceph df`'s and its placement groups
// by state equal `ceph pg dump pgs_brief`'s, once the manager has seen a
// write (its figures lag the OSDs' by some seconds, so the test waits for
// the two to agree rather than catch them in one instant).
func TestListPoolsWithMgr(t *testing.T) {
	cephenv.Require(t) // -short, or no Ceph: as every Ceph test
	ctx := t.Context()
	c, err := cephenv.Start(ctx, cephenv.Options{Mgr: true, Logf: t.Logf})
	if errors.Is(err, cephenv.ErrNoMgr) {
		daemon.Absent(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	svc := adminService(t, c)
	if err := c.CreateImage(ctx, "mgr-img", 8*mib); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteImage(ctx, "mgr-img", 0, fill(2*mib, 5)); err != nil {
		t.Fatal(err)
	}

	type figures struct {
		Stored, Objects, MaxAvail uint64
		States                    map[string]int64
	}
	fromCeph := func() map[string]figures {
		var df struct {
			Pools []struct {
				Name  string `json:"name"`
				ID    int64  `json:"id"`
				Stats struct {
					Stored   uint64 `json:"stored"`
					Objects  uint64 `json:"objects"`
					MaxAvail uint64 `json:"max_avail"`
				} `json:"stats"`
			} `json:"pools"`
		}
		cephJSON(t, c, &df, "df")
		var dump struct {
			Stats []struct {
				PGID  string `json:"pgid"`
				State string `json:"state"`
			} `json:"pg_stats"`
		}
		cephJSON(t, c, &dump, "pg", "dump", "pgs_brief")
		out := map[string]figures{}
		for _, p := range df.Pools {
			f := figures{Stored: p.Stats.Stored, Objects: p.Stats.Objects, MaxAvail: p.Stats.MaxAvail, States: map[string]int64{}}
			for _, pg := range dump.Stats {
				if strings.HasPrefix(pg.PGID, fmt.Sprintf("%d.", p.ID)) {
					f.States[pg.State]++
				}
			}
			out[p.Name] = f
		}
		return out
	}
	fromUs := func() map[string]figures {
		resp, err := svc.ListPools(ctx, connect.NewRequest(&storagev1.ListPoolsRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]figures{}
		for _, p := range resp.Msg.GetPools() {
			states := p.GetPlacementGroupState()
			if states == nil {
				states = map[string]int64{}
			}
			out[p.GetName()] = figures{Stored: p.GetUsedBytes(), Objects: p.GetUsedObjects(), MaxAvail: p.GetMaxBytes(), States: states}
		}
		return out
	}
	var ours, theirs map[string]figures
	for range 120 {
		ours, theirs = fromUs(), fromCeph()
		if reflect.DeepEqual(ours, theirs) && theirs[c.Pool].Stored >= 2*mib && theirs[c.Pool].States["active+clean"] == 8 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("ListPools never agreed with ceph df and pg dump after a write:\nours   %+v\ntheirs %+v", ours, theirs)
}
