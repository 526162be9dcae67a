//go:build !unix

package spawn

import (
	"errors"
	"os"
	"runtime"
)

// socketPair: otterscale-ceph ships for linux/amd64 only.
func socketPair() (mine, theirs *os.File, err error) {
	return nil, nil, errors.New("the Ceph worker is not supported on " + runtime.GOOS)
}
