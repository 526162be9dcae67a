//go:build !(cgo && pacific)

package main

import "context"

// measureInProcess needs librbd in this process: the bench must be built
// with cgo and -tags pacific, as `make bench` does.
func (b *cephBench) measureInProcess(context.Context) (inprocResult, error) {
	return inprocResult{skipped: "skipped: the bench was built without cgo and -tags pacific (`make bench` builds it with both)"}, nil
}
