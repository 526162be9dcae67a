package main

import (
	"syscall"
	"unsafe"
)

// resetSignal gives sig its default action (SIG_DFL), behind the Go
// runtime's back, as the real worker does for SIGABRT: the kernel's
// sigaction with every field zero.
func resetSignal(sig syscall.Signal) {
	var act [4]uint64
	_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
}
