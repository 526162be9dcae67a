package cephenv

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

// startTimeout bounds Start in Main: a start takes a few seconds, so a
// minute means something is wrong, not slow.
const startTimeout = 60 * time.Second

// The package's cluster, set up by Main for Require.
var (
	cluster *Cluster
	// unavailable says why cluster is nil; empty when Main was not called.
	unavailable string
)

// Main is for TestMain. It starts a Cluster, calls setup (if not nil) with
// it, runs the tests and stops the Cluster.
//
// With -short, or when the Ceph programs are missing, it runs the tests
// without a Cluster and Require skips them, except that in CI (CI=true)
// missing programs fail the run: CI must never silently skip.
func Main(m *testing.M, setup func(*Cluster)) {
	os.Exit(Run(m, setup))
}

// Runner is what Run runs: *testing.M, or another environment's runner
// wrapping it (testenv.Runner is the same interface), so that a package can
// start both an API server and a Ceph cluster around its tests:
//
//	os.Exit(testenv.Run(cephenv.RunFunc(func() int { return cephenv.Run(m, nil) }), nil))
type Runner interface{ Run() int }

// RunFunc adapts a function to Runner.
type RunFunc func() int

// Run calls f.
func (f RunFunc) Run() int { return f() }

// Run is Main without the exit: it returns the exit code.
func Run(m Runner, setup func(*Cluster)) int {
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
		unavailable = "no real ceph cluster in -short mode"
		return m.Run()
	}
	if err := Missing(); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "cephenv: %v\n", err)
			return 1
		}
		unavailable = err.Error()
		return m.Run()
	}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	c, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cephenv: %v\n", err)
		return 1
	}
	cluster = c

	// Ctrl-C reaches the test binary but not the daemons, which run in their
	// own process groups; stop them before dying.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "cephenv: %v: stopping the ceph cluster\n", sig)
		_ = c.Stop()
		os.Exit(1)
	}()
	defer func() {
		signal.Stop(sigs)
		close(sigs)
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "cephenv: stop: %v\n", err)
		}
	}()

	if setup != nil {
		setup(c)
	}
	return m.Run()
}

// Require returns the cluster Main started, or skips t saying why there is
// none.
func Require(t testing.TB) *Cluster {
	t.Helper()
	if cluster != nil {
		return cluster
	}
	if unavailable == "" {
		t.Fatal("cephenv.Require needs cephenv.Main in the package's TestMain")
	}
	t.Skip(unavailable)
	return nil
}
