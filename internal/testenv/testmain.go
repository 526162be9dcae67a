package testenv

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

// startTimeout bounds Start in Main: a cold start takes seconds, so a minute
// and a half means something is wrong, not slow.
const startTimeout = 90 * time.Second

// The package's environment, set up by Main for Require.
var (
	env *Env
	// unavailable says why env is nil; empty when Main was not called.
	unavailable string
)

// Main is for TestMain. It starts an Env with the default Options, calls
// setup (if not nil) with it, runs the tests and stops the Env.
//
// With -short, or when the binaries or CRDs are missing, it runs the tests
// without an Env and Require skips them, except that in CI (CI=true) missing
// binaries or CRDs fail the run: CI must never silently skip.
func Main(m *testing.M, setup func(*Env)) {
	os.Exit(Run(m, setup))
}

// Runner is what Run runs: *testing.M, or another environment's runner
// wrapping it, so that a package can start both an API server and a Ceph
// cluster around its tests.
type Runner interface{ Run() int }

// Run is Main without the exit: it returns the exit code.
func Run(m Runner, setup func(*Env)) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	opts := Options{}
	if testing.Verbose() {
		opts.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		}
	}

	if testing.Short() {
		// Asked for on the command line, so not a silent skip even in CI.
		unavailable = "no real API server in -short mode"
		return m.Run()
	}
	if err := Missing(opts); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
			return 1
		}
		unavailable = err.Error()
		return m.Run()
	}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	e, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1
	}
	env = e

	// Ctrl-C reaches the test binary but not etcd and kube-apiserver, which
	// run in their own process groups; stop them before dying.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "testenv: %v: stopping the test environment\n", sig)
		_ = e.Stop()
		os.Exit(1)
	}()
	defer func() {
		signal.Stop(sigs)
		close(sigs)
		if err := e.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop: %v\n", err)
		}
	}()

	if setup != nil {
		setup(e)
	}
	return m.Run()
}

// Require returns the environment Main started, or skips t saying why there
// is none.
func Require(t testing.TB) *Env {
	t.Helper()
	if env != nil {
		return env
	}
	if unavailable == "" {
		t.Fatal("testenv.Require needs testenv.Main in the package's TestMain")
	}
	t.Skip(unavailable)
	return nil
}
