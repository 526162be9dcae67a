// Package fake is a fake Ceph worker for pkg/worker's tests: fakeworker
// serves it with worker.Serve, as otterscale-ceph serves package ceph, and
// it hangs, exits or aborts on demand, with no Ceph.
package fake

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"connectrpc.com/connect"

	"github.com/otterscale/kubectl-otterscale/gen/kubectlotterscale/worker/v1/workerv1connect"
	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// The fake worker's behaviours, chosen by the Config's MonHost.
const (
	OK     = "fake"
	Exit   = "fake-exit"   // exits with a complaint during the handshake
	Abort  = "fake-abort"  // aborts (SIGABRT) during the handshake
	Refuse = "fake-refuse" // refuses the key, as Ceph would
)

// The fake worker's ListImageSnapshots, by image name.
const (
	ImageBlock = "block" // blocks until the call ends, after saying it arrived
	ImageAbort = "abort" // aborts the worker as librbd does
)

// LibstdcxxAbort is what libstdc++ writes before abort() when librbd
// throws where nothing catches.
const LibstdcxxAbort = "terminate called after throwing an instance of 'std::system_error'\n  what():  Invalid argument\n"

// Connect is the fake worker's "connection to Ceph". ConfFile names a
// directory where each blocking call leaves a file as it arrives.
func Connect(cfg cephconf.Config) (worker.Handlers, error) {
	switch cfg.MonHost {
	case Exit:
		fmt.Fprintln(os.Stderr, "fake worker: cannot go on")
		os.Exit(1)
	case Abort:
		abort()
	case Refuse:
		return worker.Handlers{}, connect.NewError(connect.CodeUnauthenticated,
			fmt.Errorf("connect to %s: the cluster refused client.%s's key", cfg, cfg.User))
	}
	return worker.Handlers{Storage: &storage{dir: cfg.ConfFile}, Worker: workerv1connect.UnimplementedWorkerServiceHandler{}}, nil
}

// abort ends the fake worker as librbd's abort ends the real one: killed
// by SIGABRT, libstdc++'s words last on stderr.
func abort() {
	fmt.Fprint(os.Stderr, LibstdcxxAbort)
	_ = syscall.Kill(os.Getpid(), syscall.SIGABRT)
	select {}
}

type storage struct {
	storagev1connect.UnimplementedStorageServiceHandler
	dir string
}

// ListImages answers one image named after the worker's pid, so that a
// test sees which worker answered.
func (f *storage) ListImages(_ context.Context, req *connect.Request[storagev1.ListImagesRequest]) (*connect.Response[storagev1.ListImagesResponse], error) {
	return connect.NewResponse(&storagev1.ListImagesResponse{Images: []*storagev1.Image{{Name: strconv.Itoa(os.Getpid()), PoolName: req.Msg.GetPoolName()}}}), nil
}

func (f *storage) ListImageSnapshots(ctx context.Context, req *connect.Request[storagev1.ListImageSnapshotsRequest]) (*connect.Response[storagev1.ListImageSnapshotsResponse], error) {
	switch req.Msg.GetImageName() {
	case ImageBlock:
		if tmp, err := os.CreateTemp(f.dir, "arrived-*"); err == nil {
			_ = tmp.Close()
		}
		<-ctx.Done()
		return nil, ctx.Err()
	case ImageAbort:
		abort()
	}
	return connect.NewResponse(&storagev1.ListImageSnapshotsResponse{}), nil
}
