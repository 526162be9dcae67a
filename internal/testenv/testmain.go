package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// startTimeout bounds Start in Main: a cold start takes seconds, so a minute
// and a half means something is wrong, not slow.
const startTimeout = 90 * time.Second

// The package's environment, set up by Main for Require.
var state daemon.State[*Env]

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
	return state.RunMain(m, daemon.MainOptions[*Env]{
		Name:    "testenv",
		What:    "the test environment",
		Short:   "no real API server in -short mode",
		Timeout: startTimeout,
		Missing: func() error { return Missing(Options{}) },
		Start: func(ctx context.Context, logf func(string, ...any)) (*Env, error) {
			return Start(ctx, Options{Logf: logf})
		},
		Stop:  (*Env).Stop,
		Setup: setup,
	})
}

// Require returns the environment Main started, or skips t saying why there
// is none.
func Require(t testing.TB) *Env {
	t.Helper()
	return state.Require(t, "testenv")
}
