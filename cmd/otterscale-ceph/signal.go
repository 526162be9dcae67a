//go:build cgo && pacific

package main

/*
#include <signal.h>

static void default_sigabrt(void) { signal(SIGABRT, SIG_DFL); }
*/
import "C"

// defaultAbort gives SIGABRT back its default action. librbd aborts the
// worker now and then (libstdc++'s terminate after an uncaught
// std::system_error); Go's runtime would catch that SIGABRT, print every
// goroutine's stack and exit with status 2, so that the parent would see
// "exit status 2" and the tail of a stack dump instead of the abort and
// libstdc++'s last words. With the default action the worker dies of the
// signal, as a C program would, and the Pool says so.
func defaultAbort() { C.default_sigabrt() }
