//go:build cgo && pacific

// Command otterscale-ceph is kubectl-otterscale's Ceph worker: the
// Ceph-enabled build (cgo, -tags pacific, linked against librbd and
// librados) in which every librados and librbd call runs. kubectl-otterscale
// starts it; see package worker.
package main

import (
	"os"

	"github.com/otterscale/kubectl-otterscale/pkg/ceph"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

func main() {
	defaultAbort()
	os.Exit(worker.Serve(os.Args[1:], ceph.Connect))
}
