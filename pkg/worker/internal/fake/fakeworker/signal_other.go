//go:build !linux

package main

import "syscall"

// resetSignal: the fake worker aborts as the real one only on Linux.
func resetSignal(syscall.Signal) {}
