//go:build unix

package spawn

import (
	"os"
	"syscall"
)

// socketPair makes a connected pair of Unix stream sockets: nothing on the
// file system, nobody else can connect.
func socketPair() (mine, theirs *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	return os.NewFile(uintptr(fds[0]), "ceph-worker"), os.NewFile(uintptr(fds[1]), "ceph-worker"), nil
}
