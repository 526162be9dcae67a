//go:build cgo && pacific

package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"connectrpc.com/connect"
	"github.com/ceph/go-ceph/rados"
	"github.com/ceph/go-ceph/rbd"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/ceph"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// measureInProcess times CreateImageSnapshot through the worker, through
// the worker's handlers in this process, and as bare go-ceph calls (open,
// create, close: no answer read back), then ListImageSnapshots of the
// many-snapshot image through the first two.
func (b *cephBench) measureInProcess(ctx context.Context) (res inprocResult, err error) {
	res.n = b.o.calls
	if err := b.ceph.CreateImage(ctx, inprocImage, benchImageBytes); err != nil {
		return res, err
	}
	if err := b.ceph.WriteImage(ctx, inprocImage, 0, pattern(64<<10, 1)); err != nil {
		return res, err
	}
	if _, err := b.ceph.RBD(ctx, "snap", "create", "--no-progress", b.ceph.Pool+"/"+inprocImage+"@setup"); err != nil {
		return res, err
	}
	cfg := b.workerConfig()

	pool := worker.NewPool(worker.Options{Path: b.worker})
	defer pool.Close()
	w, err := pool.Get(ctx, cfg)
	if err != nil {
		return res, fmt.Errorf("start the worker: %w", err)
	}
	h, err := ceph.Connect(*cfg)
	if err != nil {
		return res, fmt.Errorf("connect in-process: %w", err)
	}
	raw, err := rawConn(cfg)
	if err != nil {
		return res, err
	}

	seq := 0
	createReq := func(prefix string) *connect.Request[storagev1.CreateImageSnapshotRequest] {
		seq++
		return connect.NewRequest(&storagev1.CreateImageSnapshotRequest{
			PoolName: b.ceph.Pool, ImageName: inprocImage, SnapshotName: fmt.Sprintf("%s-%d", prefix, seq),
		})
	}
	creates := []struct {
		label string
		call  func() error
	}{
		{"the worker (w.Storage.CreateImageSnapshot)", func() error {
			_, err := w.Storage.CreateImageSnapshot(ctx, createReq("worker"))
			return err
		}},
		{"in-process (pkg/ceph handler)", func() error {
			_, err := h.Storage.CreateImageSnapshot(ctx, createReq("inproc"))
			return err
		}},
		{"bare go-ceph (open, CreateSnapshot, close)", func() error {
			seq++
			return rawCreate(raw, b.ceph.Pool, inprocImage, fmt.Sprintf("raw-%d", seq))
		}},
	}
	res.create = make([]callerTimes, len(creates))
	for i, c := range creates {
		res.create[i].label = c.label
		if err := c.call(); err != nil { // warm-up
			return res, fmt.Errorf("%s: %w", c.label, err)
		}
	}
	for i := range b.o.calls {
		for j := range creates {
			k := (i + j) % len(creates)
			start := time.Now()
			if err := creates[k].call(); err != nil {
				return res, fmt.Errorf("%s: %w", creates[k].label, err)
			}
			res.create[k].times = append(res.create[k].times, time.Since(start))
		}
	}

	res.listImage = b.ceph.Pool + "/" + manyImage
	listReq := connect.NewRequest(&storagev1.ListImageSnapshotsRequest{PoolName: b.ceph.Pool, ImageName: manyImage})
	lists := []struct {
		label string
		svc   storagev1connect.StorageServiceClient
		h     storagev1connect.StorageServiceHandler
	}{
		{label: "the worker (w.Storage.ListImageSnapshots)", svc: w.Storage},
		{label: "in-process (pkg/ceph handler)", h: h.Storage},
	}
	call := func(k int) (*storagev1.ListImageSnapshotsResponse, error) {
		if lists[k].svc != nil {
			resp, err := lists[k].svc.ListImageSnapshots(ctx, listReq)
			if err != nil {
				return nil, err
			}
			return resp.Msg, nil
		}
		resp, err := lists[k].h.ListImageSnapshots(ctx, listReq)
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}
	res.list = make([]callerTimes, len(lists))
	var answers [2]*storagev1.ListImageSnapshotsResponse
	for k := range lists {
		res.list[k].label = lists[k].label
		if answers[k], err = call(k); err != nil { // warm-up: fills the usage cache
			return res, fmt.Errorf("%s: %w", lists[k].label, err)
		}
	}
	res.listSnaps = len(answers[0].GetSnapshots())
	res.equal = proto.Equal(answers[0], answers[1])
	for i := range b.o.calls {
		for j := range lists {
			k := (i + j) % len(lists)
			start := time.Now()
			if _, err := call(k); err != nil {
				return res, fmt.Errorf("%s: %w", lists[k].label, err)
			}
			res.list[k].times = append(res.list[k].times, time.Since(start))
		}
	}
	return res, nil
}

// rawConn connects this process to Ceph with go-ceph, as the worker does.
// It is never shut down (librados' teardown can abort the process).
func rawConn(cfg *cephconf.Config) (*rados.Conn, error) {
	conn, err := rados.NewConnWithUser(cfg.User)
	if err != nil {
		return nil, err
	}
	runtime.SetFinalizer(conn, nil)
	for _, o := range [][2]string{
		{"mon_host", cfg.MonHost}, {"key", cfg.Key},
		{"client_mount_timeout", "5"}, {"rados_mon_op_timeout", "5"}, {"rados_osd_op_timeout", "5"},
		{"log_to_stderr", "false"}, {"err_to_stderr", "false"},
	} {
		if err := conn.SetConfigOption(o[0], o[1]); err != nil {
			return nil, fmt.Errorf("set %s: %w", o[0], err)
		}
	}
	if err := conn.Connect(); err != nil {
		return nil, fmt.Errorf("connect with go-ceph: %w", err)
	}
	return conn, nil
}

// rawCreate is the least a snapshot takes: open the image for writing,
// create, close.
func rawCreate(conn *rados.Conn, pool, image, snap string) error {
	ioctx, err := conn.OpenIOContext(pool)
	if err != nil {
		return err
	}
	defer ioctx.Destroy()
	img, err := rbd.OpenImage(ioctx, image, rbd.NoSnapshot)
	if err != nil {
		return err
	}
	if _, err := img.CreateSnapshot(snap); err != nil {
		_ = img.Close()
		return err
	}
	return img.Close()
}
