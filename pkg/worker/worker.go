// Package worker owns the Ceph worker: the process in which every librados
// and librbd call runs, so that none ever runs in kubectl-otterscale's own
// process or the proxy's.
//
// The worker is otterscale-ceph (cmd/otterscale-ceph), the Ceph-enabled
// build: cgo, -tags pacific, linked against librbd and librados. It serves
// otterscale.storage.v1.StorageService and the worker's own WorkerService
// over Connect, on HTTP/2 over one end of a Unix socket pair that its
// parent made; it connects to one Ceph cluster, whose address and key it
// reads from stdin (never from its arguments or environment), and it exits
// when stdin closes. kubectl-otterscale, always the cgo-free build, runs a
// Pool of workers, one per cluster, and calls them with the generated
// Connect clients.
//
// Why a process of its own: librados 16.2 aborts its process now and then
// (a librados thread throws std::system_error, "Invalid argument", and
// terminate() follows), and a librbd call can hang. In a worker either
// costs the calls in flight, which answer unavailable, and the Pool starts
// a new worker for the next call; the proxy goes on serving.
//
// Serve is the worker's side; Pool is the parent's. Both are here so that
// the protocol between them lives in one file each side reads.
package worker

import (
	"errors"
	"time"

	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/worker/spawn"
)

// timeout is cfg.Timeout, or cephconf.DefaultTimeout when it is not set.
func timeout(cfg *cephconf.Config) time.Duration {
	if cfg.Timeout <= 0 {
		return cephconf.DefaultTimeout
	}
	return cfg.Timeout
}

// The protocol between a Pool and the worker it starts.
const (
	// BinaryName is the worker's file name.
	BinaryName = spawn.BinaryName
	// PathEnv names the worker binary to use, before the one beside
	// kubectl-otterscale and the one on PATH.
	PathEnv = spawn.PathEnv
	// errorHeader marks an error that the worker itself answered, as
	// opposed to one that its connection gave (the worker died).
	errorHeader = "Otterscale-Ceph-Worker"
	// versionArg makes otterscale-ceph print its version and exit: a
	// binary whose shared libraries are missing never gets that far (the
	// dynamic loader exits 127 first), so an answer proves it can start.
	versionArg = "version"
)

// hello is what the worker writes on stdout once it has tried to connect:
// an empty Code for a connection made, else the error's code and message
// (never a key: messages are built from cephconf.Config's String).
type hello struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// ErrNoCeph is the reason every RBD call fails where no worker can run;
// errors.Is finds it in the Connect error the Pool answers then.
var ErrNoCeph = errors.New(
	"no Ceph support here: kubectl-otterscale runs its Ceph calls in otterscale-ceph, the Ceph-enabled build " +
		"that ships beside it in the linux/amd64 release archive (kubectl-otterscale_VERSION_linux_amd64.tar.gz, which Krew installs " +
		"on linux/amd64) and needs Debian's or Ubuntu's librbd1 and librados2; keep it next to kubectl-otterscale or on PATH, " +
		"or build both from source with `make build`")
