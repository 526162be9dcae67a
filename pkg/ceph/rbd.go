//go:build cgo && pacific

package ceph

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/ceph/go-ceph/rados"
	"github.com/ceph/go-ceph/rbd"
	"google.golang.org/protobuf/types/known/timestamppb"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
)

// cluster is the worker's one librados connection. Each call opens the
// pool's I/O context and the image it needs once, and closes them again:
// images are open for as short as possible so that this process does not
// count as a user of an image someone wants to roll back.
//
// The connection is never shut down: the worker exits without librados'
// teardown (see worker.Serve), which under load can abort the process.
type cluster struct {
	conn   *rados.Conn
	cfg    *cephconf.Config
	usage  *usageCache
	calls  *limiter
	images *imageLocks
}

// dial connects this process to Ceph.
func dial(cfg *cephconf.Config) (*cluster, error) {
	user := cfg.User
	if user == "" {
		user = "admin"
	}
	conn, err := rados.NewConnWithUser(user)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("connect to %s: %w", cfg, err))
	}
	// go-ceph's finalizer would call rados_shutdown whenever the garbage
	// collector gets to a handle; see cluster.
	runtime.SetFinalizer(conn, nil)
	if cfg.ConfFile != "" {
		if err := conn.ReadConfigFile(cfg.ConfFile); err != nil {
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("read %s: %w", cfg.ConfFile, err))
		}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = cephconf.DefaultTimeout
	}
	secs := strconv.Itoa(int(math.Ceil(timeout.Seconds())))
	opts := [][2]string{
		// Without these a dead monitor or a wrong key blocks for 300 s.
		{"client_mount_timeout", secs},
		{"rados_mon_op_timeout", secs},
		{"rados_osd_op_timeout", secs},
		// librados' own logging would land on the parent's stderr tail.
		{"log_to_stderr", "false"},
		{"err_to_stderr", "false"},
		{"log_file", ""},
	}
	if cfg.MonHost != "" {
		opts = append(opts, [2]string{"mon_host", cfg.MonHost})
	}
	if cfg.Key != "" {
		opts = append(opts, [2]string{"key", cfg.Key})
	}
	for _, o := range opts {
		if err := conn.SetConfigOption(o[0], o[1]); err != nil {
			// The value may be the key: name only the option.
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("connect to %s: set option %s: %w", cfg, o[0], err))
		}
	}
	start := time.Now()
	if err := conn.Connect(); err != nil {
		switch errno(err) {
		case syscall.EACCES, syscall.EPERM:
			return nil, connect.NewError(connect.CodeUnauthenticated,
				fmt.Errorf("connect to %s: the cluster refused client.%s's key", cfg, user))
		case syscall.ETIMEDOUT:
			return nil, connect.NewError(connect.CodeUnavailable,
				fmt.Errorf("connect to %s: the cluster is unreachable: no monitor answered within %s", cfg, time.Since(start).Round(time.Second)))
		}
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("connect to %s: %w", cfg, err))
	}
	return &cluster{conn: conn, cfg: cfg, usage: newUsageCache(), calls: newLimiter(maxCalls), images: newImageLocks()}, nil
}

// errno is the error number in a go-ceph error, or 0.
func errno(err error) syscall.Errno {
	var e interface{ ErrorCode() int }
	if errors.As(err, &e) {
		return syscall.Errno(-e.ErrorCode())
	}
	return 0
}

// cephError turns a librados/librbd error into a Connect error; op says
// what was being done.
func cephError(err error, op string) error {
	code := connect.CodeUnknown
	switch errno(err) {
	case syscall.ENOENT:
		code = connect.CodeNotFound
	case syscall.EEXIST:
		code = connect.CodeAlreadyExists
	case syscall.EBUSY, syscall.ENOTEMPTY, syscall.EROFS:
		code = connect.CodeFailedPrecondition
	case syscall.EPERM, syscall.EACCES:
		code = connect.CodePermissionDenied
	case syscall.ETIMEDOUT, syscall.ENOTCONN, syscall.ESHUTDOWN:
		code = connect.CodeUnavailable
	case syscall.EINVAL, syscall.ENAMETOOLONG, syscall.ERANGE:
		code = connect.CodeInvalidArgument
	case syscall.ENOSPC, syscall.EDQUOT:
		code = connect.CodeResourceExhausted
	}
	return connect.NewError(code, fmt.Errorf("%s: %w", op, err))
}

func spec(pool, image, snap string) string {
	if snap == "" {
		return pool + "/" + image
	}
	return pool + "/" + image + "@" + snap
}

func (b *cluster) ioctx(pool string) (*rados.IOContext, error) {
	ioctx, err := b.conn.OpenIOContext(pool)
	if err != nil {
		if errno(err) == syscall.ENOENT {
			return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("pool %q not found", pool))
		}
		return nil, cephError(err, fmt.Sprintf("open pool %q", pool))
	}
	return ioctx, nil
}

// open opens pool/image (at snap, when not empty) and returns a function
// that closes both.
func (b *cluster) open(pool, image, snap string, readOnly bool) (*rados.IOContext, *rbd.Image, func(), error) {
	ioctx, err := b.ioctx(pool)
	if err != nil {
		return nil, nil, nil, err
	}
	var img *rbd.Image
	if readOnly {
		img, err = openImage(ioctx, image, snapOrHead(snap), true)
	} else {
		img, err = openImage(ioctx, image, snapOrHead(snap), false)
	}
	if err != nil {
		ioctx.Destroy()
		if errno(err) == syscall.ENOENT {
			if snap != "" {
				return nil, nil, nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("snapshot %s not found", spec(pool, image, snap)))
			}
			return nil, nil, nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("image %q not found in pool %q", image, pool))
		}
		return nil, nil, nil, cephError(err, "open image "+spec(pool, image, snap))
	}
	return ioctx, img, func() { closeImage(img); ioctx.Destroy() }, nil
}

func snapOrHead(snap string) string {
	if snap == "" {
		return rbd.NoSnapshot
	}
	return snap
}

// snapshot finds snap on an open image, or answers not_found.
func snapshot(img *rbd.Image, pool, image, snap string) (rbd.SnapInfo, error) {
	infos, err := img.GetSnapshotNames()
	if err != nil {
		return rbd.SnapInfo{}, cephError(err, "list snapshots of "+spec(pool, image, ""))
	}
	for _, s := range infos {
		if s.Name == snap {
			return s, nil
		}
	}
	return rbd.SnapInfo{}, connect.NewError(connect.CodeNotFound, fmt.Errorf("snapshot %s not found", spec(pool, image, snap)))
}

func (b *cluster) createSnapshot(pool, image, snap string) (*storagev1.Image_Snapshot, error) {
	_, img, done, err := b.open(pool, image, "", false)
	if err != nil {
		return nil, err
	}
	defer done()
	// What the answer needs is read before the create, from the image as
	// it was just opened: once the snapshot exists, the image's next call
	// re-reads every snapshot's metadata (the create notifies the image's
	// watchers, this handle among them), which on an image with 100
	// snapshots cost half again as much as the create. The usage is one
	// diff, from the newest snapshot to the head, which is what the new
	// snapshot holds; a write that lands between the two is counted by the
	// next listing, which computes the figure between the snapshots
	// themselves (so this one is not cached).
	infos, err := snapInfos(img, pool, image)
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		if info.Name == snap {
			return nil, errSnapshotExists(pool, image, snap)
		}
	}
	st, err := img.Stat()
	if err != nil {
		return nil, cephError(err, "read image "+spec(pool, image, ""))
	}
	from := ""
	if len(infos) > 0 {
		from = infos[len(infos)-1].Name
	}
	used, err := du(img, pool, image, "", from, st.Size)
	if err != nil {
		return nil, err
	}
	if _, err := img.CreateSnapshot(snap); err != nil {
		if errno(err) == syscall.EEXIST {
			return nil, errSnapshotExists(pool, image, snap)
		}
		return nil, cephError(err, "create snapshot "+spec(pool, image, snap))
	}
	return &storagev1.Image_Snapshot{Name: snap, QuotaBytes: st.Size, UsedBytes: used}, nil
}

func errSnapshotExists(pool, image, snap string) error {
	return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("snapshot %s already exists", spec(pool, image, snap)))
}

// vanishedRetries bounds how often a reading of an image's snapshots
// starts again because one of those it listed was gone by the time it
// was read: deleted by another client, or by another call in this worker.
const vanishedRetries = 5

// retryVanished runs read again while it answers not_found (a snapshot it
// listed has vanished since), at most vanishedRetries times in all. read
// lists the snapshots afresh each time.
func retryVanished[T any](read func() (T, error)) (T, error) {
	var v T
	var err error
	for range vanishedRetries {
		if v, err = read(); connect.CodeOf(err) != connect.CodeNotFound {
			break
		}
	}
	return v, err
}

// onSnapshot opens pool/image for writing, checks that snap exists (not
// found otherwise), and runs act on it.
func (b *cluster) onSnapshot(pool, image, snap string, act func(img *rbd.Image, s *rbd.Snapshot, name string) error) error {
	_, img, done, err := b.open(pool, image, "", false)
	if err != nil {
		return err
	}
	defer done()
	if _, err := snapshot(img, pool, image, snap); err != nil {
		return err
	}
	return act(img, img.GetSnapshot(snap), spec(pool, image, snap))
}

// protected reports whether s is protected; op names the caller's action.
func protected(s *rbd.Snapshot, op string) (bool, error) {
	p, err := s.IsProtected()
	if err != nil {
		return false, cephError(err, op)
	}
	return p, nil
}

func (b *cluster) deleteSnapshot(pool, image, snap string) error {
	return b.onSnapshot(pool, image, snap, func(_ *rbd.Image, s *rbd.Snapshot, name string) error {
		op := "delete snapshot " + name
		if p, err := protected(s, op); err != nil {
			return err
		} else if p {
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
				"%s: it is protected; unprotect it first (kubectl otterscale snapshot unprotect %s)", op, name))
		}
		if err := s.Remove(); err != nil {
			return cephError(err, op)
		}
		return nil
	})
}

func (b *cluster) protectSnapshot(pool, image, snap string) error {
	return b.onSnapshot(pool, image, snap, func(_ *rbd.Image, s *rbd.Snapshot, name string) error {
		op := "protect snapshot " + name
		if p, err := protected(s, op); err != nil {
			return err
		} else if p {
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%s: it is already protected", op))
		}
		if err := s.Protect(); err != nil {
			return cephError(err, op)
		}
		return nil
	})
}

func (b *cluster) unprotectSnapshot(pool, image, snap string) error {
	return b.onSnapshot(pool, image, snap, func(_ *rbd.Image, s *rbd.Snapshot, name string) error {
		op := "unprotect snapshot " + name
		if p, err := protected(s, op); err != nil {
			return err
		} else if !p {
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%s: it is not protected", op))
		}
		// librbd would answer a bare EBUSY; name the clones instead.
		if children, err := b.children(pool, image, snap); err != nil {
			return err
		} else if len(children) > 0 {
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
				"%s: it has %d clone(s) (%s); flatten them (rbd flatten) or delete them first",
				op, len(children), strings.Join(children, ", ")))
		}
		if err := s.Unprotect(); err != nil {
			return cephError(err, op)
		}
		return nil
	})
}

// children lists the clones of pool/image@snap as POOL/IMAGE.
func (b *cluster) children(pool, image, snap string) ([]string, error) {
	_, img, done, err := b.open(pool, image, snap, true)
	if err != nil {
		return nil, err
	}
	defer done()
	pools, images, err := img.ListChildren()
	if err != nil {
		return nil, cephError(err, "list clones of "+spec(pool, image, snap))
	}
	out := make([]string, len(images))
	for i := range images {
		out[i] = spec(pools[i], images[i], "")
	}
	return out, nil
}

func (b *cluster) rollbackSnapshot(pool, image, snap string) error {
	return b.onSnapshot(pool, image, snap, func(img *rbd.Image, s *rbd.Snapshot, name string) error {
		op := "roll back " + name
		// Rolling back under a running VM corrupts its disk: refuse while
		// any other client watches the image (a VM, rbd map, rbd-nbd).
		watchers, err := img.ListWatchers()
		if err != nil {
			return cephError(err, "list users of "+spec(pool, image, ""))
		}
		self := int64(b.conn.GetInstanceID())
		var users []string
		for _, w := range watchers {
			if w.Id != self {
				users = append(users, w.Addr)
			}
		}
		if len(users) > 0 {
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
				"%s: the image is in use by %d client(s) (%s); stop the VM or unmap the image first",
				op, len(users), strings.Join(users, ", ")))
		}
		if err := s.Rollback(); err != nil {
			return cephError(err, op)
		}
		return nil
	})
}

func (b *cluster) listSnapshots(pool, image string) ([]*storagev1.Image_Snapshot, error) {
	_, img, done, err := b.open(pool, image, "", true)
	if err != nil {
		return nil, err
	}
	defer done()
	return retryVanished(func() ([]*storagev1.Image_Snapshot, error) {
		infos, err := snapInfos(img, pool, image)
		if err != nil {
			return nil, err
		}
		return b.snapshots(img, pool, image, infos)
	})
}

// snapInfos lists an open image's snapshots, oldest first: those of the
// user namespace, which are the ones `rbd snap ls` shows and the only
// ones found by name. librbd 16.2 lists the others too: a snapshot being
// deleted is first moved to the trash namespace under a UUID for a name.
func snapInfos(img *rbd.Image, pool, image string) ([]rbd.SnapInfo, error) {
	all, err := img.GetSnapshotNames()
	if err != nil {
		return nil, cephError(err, "list snapshots of "+spec(pool, image, ""))
	}
	infos := all[:0]
	for _, info := range all {
		ns, err := img.GetSnapNamespaceType(info.Id)
		if errno(err) == syscall.ENOENT {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, cephError(err, "read snapshot "+spec(pool, image, info.Name))
		}
		if ns == rbd.SnapNamespaceTypeUser {
			infos = append(infos, info)
		}
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Id < infos[j].Id })
	return infos, nil
}

// snapshots answers an open image's snapshots (infos, oldest first) with
// what `rbd du` reports for each: the whole objects written between the
// previous snapshot and this one. It moves the open image to each snapshot
// whose usage is not cached (rbd du does the same), so it comes last in
// what a call does with the image.
func (b *cluster) snapshots(img *rbd.Image, pool, image string, infos []rbd.SnapInfo) ([]*storagev1.Image_Snapshot, error) {
	out := make([]*storagev1.Image_Snapshot, 0, len(infos))
	for i, info := range infos {
		var prev *rbd.SnapInfo
		if i > 0 {
			prev = &infos[i-1]
		}
		s, err := b.snapshotOf(img, pool, image, info, prev)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// snapshotOf answers one snapshot of an open image. Its usage, the whole
// objects that differ from prev (the image's creation when nil), never
// changes once both exist: it is computed once per worker and kept.
func (b *cluster) snapshotOf(img *rbd.Image, pool, image string, info rbd.SnapInfo, prev *rbd.SnapInfo) (*storagev1.Image_Snapshot, error) {
	protected, err := img.GetSnapshot(info.Name).IsProtected()
	if err != nil {
		return nil, cephError(err, "read snapshot "+spec(pool, image, info.Name))
	}
	id, err := img.GetId()
	if err != nil {
		return nil, cephError(err, "read image "+spec(pool, image, ""))
	}
	k := usageKey{pool: pool, image: id, to: info.Id}
	from := ""
	if prev != nil {
		k.from, from = prev.Id, prev.Name
	}
	used, ok := b.usage.get(k)
	if !ok {
		if err := setSnap(img, info.Id); err != nil {
			return nil, cephError(err, "open "+spec(pool, image, info.Name))
		}
		if used, err = du(img, pool, image, info.Name, from, info.Size); err != nil {
			return nil, err
		}
		b.usage.put(k, used)
	}
	return &storagev1.Image_Snapshot{Name: info.Name, Protected: protected, QuotaBytes: info.Size, UsedBytes: used}, nil
}

// du is `rbd du` for one line: the bytes, in whole objects, that differ
// between snapshot from (the image's creation when empty) and what img is
// open at (to names it, for messages). DiffIterate uses the fast-diff
// object map where the image has one and reads the objects where it has
// not.
func du(img *rbd.Image, pool, image, to, from string, size uint64) (uint64, error) {
	var used uint64
	err := img.DiffIterate(rbd.DiffIterateConfig{
		SnapName:      snapOrHead(from),
		Length:        size,
		IncludeParent: rbd.ExcludeParent,
		WholeObject:   rbd.EnableWholeObject,
		Callback: func(_, length uint64, exists int, _ any) int {
			if exists != 0 {
				used += length
			}
			return 0
		},
	})
	if err != nil {
		return 0, cephError(err, "compute disk usage of "+spec(pool, image, to))
	}
	return used, nil
}

func (b *cluster) listImages(pool string) ([]*storagev1.Image, error) {
	pools := []string{pool}
	if pool == "" {
		var err error
		if pools, err = b.conn.ListPools(); err != nil {
			return nil, cephError(err, "list pools")
		}
	}
	out := []*storagev1.Image{}
	for _, p := range pools {
		images, err := b.poolImages(p)
		if err != nil {
			// Listing every pool skips those this user may not read (ceph-csi
			// users are limited to their pools) and those without RBD.
			if pool == "" && (connect.CodeOf(err) == connect.CodePermissionDenied || connect.CodeOf(err) == connect.CodeNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, images...)
	}
	return out, nil
}

// sortedImageNames lists the images of the pool ioctx is open on.
func sortedImageNames(ioctx *rados.IOContext, pool string) ([]string, error) {
	names, err := rbd.GetImageNames(ioctx)
	if err != nil {
		return nil, cephError(err, fmt.Sprintf("list images in pool %q", pool))
	}
	sort.Strings(names)
	return names, nil
}

func (b *cluster) poolImages(pool string) ([]*storagev1.Image, error) {
	ioctx, err := b.ioctx(pool)
	if err != nil {
		return nil, err
	}
	defer ioctx.Destroy()
	names, err := sortedImageNames(ioctx, pool)
	if err != nil {
		return nil, err
	}
	out := make([]*storagev1.Image, 0, len(names))
	for _, name := range names {
		img, err := b.image(ioctx, pool, name)
		if errors.Is(err, errImageGone) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// errImageGone is image's error for an image deleted since it was listed.
var errImageGone = errors.New("image deleted meanwhile")

// image reads every field of the Image message. A snapshot deleted while
// it reads makes it start again (retryVanished), with the image opened
// afresh at its head; an image deleted since the pool was listed answers
// errImageGone.
func (b *cluster) image(ioctx *rados.IOContext, pool, name string) (*storagev1.Image, error) {
	return retryVanished(func() (*storagev1.Image, error) {
		img, err := openImage(ioctx, name, rbd.NoSnapshot, true)
		if errno(err) == syscall.ENOENT {
			return nil, errImageGone // not not_found: no retry
		}
		if err != nil {
			return nil, cephError(err, "open image "+spec(pool, name, ""))
		}
		defer closeImage(img)
		return b.readImage(img, pool, name)
	})
}

// readImage reads every field of the Image message from img, open at its
// head.
func (b *cluster) readImage(img *rbd.Image, pool, name string) (*storagev1.Image, error) {
	op := "read image " + spec(pool, name, "")
	st, err := img.Stat()
	if err != nil {
		return nil, cephError(err, op)
	}
	features, err := img.GetFeatures()
	if err != nil {
		return nil, cephError(err, op)
	}
	unit, err := img.GetStripeUnit()
	if err != nil {
		return nil, cephError(err, op)
	}
	count, err := img.GetStripeCount()
	if err != nil {
		return nil, cephError(err, op)
	}
	created, err := img.GetCreateTimestamp()
	if err != nil {
		return nil, cephError(err, op)
	}
	infos, err := snapInfos(img, pool, name)
	if err != nil {
		return nil, err
	}
	last := ""
	if len(infos) > 0 {
		last = infos[len(infos)-1].Name
	}
	// The image's use is rbd du's total: its head since the last snapshot
	// plus what each snapshot holds. The head first, while the image is
	// open at it.
	used, err := du(img, pool, name, "", last, st.Size)
	if err != nil {
		return nil, err
	}
	snaps, err := b.snapshots(img, pool, name, infos)
	if err != nil {
		return nil, err
	}
	for _, s := range snaps {
		used += s.GetUsedBytes()
	}
	return &storagev1.Image{
		Name:            name,
		PoolName:        pool,
		ObjectSizeBytes: st.Obj_size,
		StripeUnitBytes: unit,
		StripeCount:     count,
		QuotaBytes:      st.Size,
		UsedBytes:       used,
		ObjectCount:     st.Num_objs,
		Layering:        features&rbd.FeatureLayering != 0,
		ExclusiveLock:   features&rbd.FeatureExclusiveLock != 0,
		ObjectMap:       features&rbd.FeatureObjectMap != 0,
		FastDiff:        features&rbd.FeatureFastDiff != 0,
		DeepFlatten:     features&rbd.FeatureDeepFlatten != 0,
		CreatedAt:       timestamppb.New(time.Unix(created.Sec, created.Nsec)),
		Snapshots:       snaps,
	}, nil
}
