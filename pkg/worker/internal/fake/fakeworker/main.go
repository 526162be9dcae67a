// Command fakeworker is a fake otterscale-ceph for pkg/worker's tests (see
// package fake).
package main

import (
	"os"
	"syscall"

	"github.com/otterscale/kubectl-otterscale/pkg/worker"
	"github.com/otterscale/kubectl-otterscale/pkg/worker/internal/fake"
)

func main() {
	// As the real worker does, die of SIGABRT rather than let Go's
	// runtime turn it into a goroutine dump and exit 2.
	resetSignal(syscall.SIGABRT)
	os.Exit(worker.Serve(os.Args[1:], fake.Connect))
}
