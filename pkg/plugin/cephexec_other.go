//go:build !unix

package plugin

import (
	"errors"
	"runtime"
)

// execve cannot replace a process here; otterscale-ceph ships for
// linux/amd64 only.
func execve(string, []string, []string) error {
	return errors.New("handing a command to another binary is not supported on " + runtime.GOOS)
}
