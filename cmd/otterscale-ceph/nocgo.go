//go:build !cgo || !pacific

package main

import (
	"fmt"
	"os"
)

// exitNoCeph is what worker.Check reads as "a build without Ceph support".
const exitNoCeph = 3

// main of a build without cgo or the pacific tag has nothing to serve.
func main() {
	fmt.Fprintln(os.Stderr, "otterscale-ceph was built without Ceph support: build it with CGO_ENABLED=1 and -tags pacific (make build)")
	os.Exit(exitNoCeph)
}
