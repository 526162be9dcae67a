package daemon

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// InCI says whether this is a CI run (CI=true), where `make test` has
// installed every component first, so a missing one is a failure, never a
// skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Absent ends t because a component it needs is missing: a skip that says
// what is missing and what installs it, or in CI a failure.
func Absent(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format+" (CI must have it)", args...)
	}
	t.Skipf(format, args...)
}

// Runner is what RunMain runs: *testing.M, or another environment's runner
// wrapping it, so that a package can start, say, both an API server and a
// Ceph cluster around its tests (testenv.WithCeph).
type Runner interface{ Run() int }

// RunFunc adapts a function to Runner.
type RunFunc func() int

// Run calls f.
func (f RunFunc) Run() int { return f() }

// MainOptions describe a test environment to RunMain. T is what Start
// returns, such as *testenv.Env or *cephenv.Cluster.
type MainOptions[T any] struct {
	// Name prefixes the messages on standard error, such as "testenv".
	Name string
	// What names the environment in the message on a signal, such as "the
	// test environment".
	What string
	// Short is why there is no environment in -short mode.
	Short string
	// Timeout bounds Start.
	Timeout time.Duration
	// Missing returns nil when everything Start needs is there, and otherwise
	// an error naming what is missing.
	Missing func() error
	// Start starts the environment; logf receives progress messages, and is
	// nil unless the tests run with -v.
	Start func(ctx context.Context, logf func(format string, args ...any)) (T, error)
	// Stop stops the environment Start returned.
	Stop func(T) error
	// Setup, if not nil, is called with the environment before the tests;
	// an error fails the run.
	Setup func(T) error
}

// State is an environment package's own state, set up by RunMain for
// Require: the environment it started, or why there is none. Each package
// has one, so that a test binary can run several environments.
type State[T comparable] struct {
	env T
	// unavailable says why env is the zero T; empty when RunMain was not
	// called.
	unavailable string
}

// RunMain is the body of an environment's Run, for TestMain: it starts the
// environment, records it in s, calls opts.Setup with it, runs m, stops the
// environment and returns the exit code.
//
// With -short, or when opts.Missing reports something missing, it runs m
// without an environment (and Require skips), except that in CI (CI=true)
// something missing fails the run: CI must never silently skip.
func (s *State[T]) RunMain(m Runner, opts MainOptions[T]) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	var logf func(format string, args ...any)
	if testing.Verbose() {
		logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		}
	}

	if testing.Short() {
		// Asked for on the command line, so not a silent skip even in CI.
		s.unavailable = opts.Short
		return m.Run()
	}
	if err := opts.Missing(); err != nil {
		if InCI() {
			fmt.Fprintf(os.Stderr, "%s: %v\n", opts.Name, err)
			return 1
		}
		s.unavailable = err.Error()
		return m.Run()
	}

	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	e, err := opts.Start(ctx, logf)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", opts.Name, err)
		return 1
	}
	s.env = e

	// Ctrl-C reaches the test binary but not the daemons, which run in their
	// own process groups; stop them before dying.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "%s: %v: stopping %s\n", opts.Name, sig, opts.What)
		_ = opts.Stop(e)
		os.Exit(1)
	}()
	defer func() {
		signal.Stop(sigs)
		close(sigs)
		if err := opts.Stop(e); err != nil {
			fmt.Fprintf(os.Stderr, "%s: stop: %v\n", opts.Name, err)
		}
	}()

	if opts.Setup != nil {
		if err := opts.Setup(e); err != nil {
			fmt.Fprintf(os.Stderr, "%s: set up: %v\n", opts.Name, err)
			return 1
		}
	}
	return m.Run()
}

// Require is the body of an environment's Require: it returns the
// environment RunMain started, or else skips t saying why there is none, or
// fails t when RunMain was not called. name is the environment's package, as
// in MainOptions.Name; startedBy says what TestMain must call to start it.
func (s *State[T]) Require(t testing.TB, name, startedBy string) T {
	t.Helper()
	var none T
	if s.env != none {
		return s.env
	}
	if s.unavailable == "" {
		t.Fatalf("%s.Require: nothing started it; the package's TestMain must be %s", name, startedBy)
	}
	t.Skip(s.unavailable)
	return none
}
