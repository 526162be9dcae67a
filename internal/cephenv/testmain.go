package cephenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// startTimeout bounds Start in Main: a start takes a few seconds, so a
// minute means something is wrong, not slow.
const startTimeout = 60 * time.Second

// The package's cluster, set up by Main for Require.
var state daemon.State[*Cluster]

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
	return state.RunMain(m, daemon.MainOptions[*Cluster]{
		Name:    "cephenv",
		What:    "the ceph cluster",
		Short:   "no real ceph cluster in -short mode",
		Timeout: startTimeout,
		Missing: Missing,
		Start: func(ctx context.Context, logf func(string, ...any)) (*Cluster, error) {
			if err := EnsureWorker(ctx, logf); err != nil {
				return nil, err
			}
			return Start(ctx, Options{Logf: logf})
		},
		Stop:  (*Cluster).Stop,
		Setup: setup,
	})
}

// Require returns the cluster Main started, or skips t saying why there is
// none.
func Require(t testing.TB) *Cluster {
	t.Helper()
	return state.Require(t, "cephenv")
}
