//go:build unix

package plugin

import "syscall"

// execve replaces this process with path.
func execve(path string, argv, env []string) error {
	return syscall.Exec(path, argv, env)
}
