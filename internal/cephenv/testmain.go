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
// it, runs the tests and stops the Cluster; an error from setup fails the
// run.
//
// With -short, or when the Ceph programs are missing, it runs the tests
// without a Cluster and Require skips them, except that in CI (CI=true)
// missing programs fail the run: CI must never silently skip.
func Main(m *testing.M, setup func(*Cluster) error) {
	os.Exit(Run(m, setup))
}

// Run is Main without the exit: it returns the exit code. m is
// *testing.M, or the runner of another environment wrapping it; packages
// that want an API server too use testenv.Main with testenv.WithCeph,
// which calls Run.
func Run(m daemon.Runner, setup func(*Cluster) error) int {
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
	return state.Require(t, "cephenv", "testenv.Main(m, testenv.WithCeph()), or cephenv.Main(m, nil) without an API server")
}
