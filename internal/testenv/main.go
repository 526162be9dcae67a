package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// startTimeout bounds Start in Main: a cold start takes seconds, so a minute
// and a half means something is wrong, not slow.
const startTimeout = 90 * time.Second

// setupTimeout bounds the storage classes and WithSetup functions together.
const setupTimeout = 30 * time.Second

// StorageClass is the name of the ceph-csi RBD class of OtterScale's
// clusters, the one most tests make the default (WithStorageClass).
const StorageClass = "ceph-block"

// The package's environment, set up by Main for Require, and whether Main
// was given WithCeph.
var (
	state    daemon.State[*Env]
	withCeph bool
)

// An Option adds to what Main sets up around a package's tests.
type Option func(*mainOptions)

type mainOptions struct {
	ceph    bool
	classes []storageClass
	setups  []func(context.Context, *Env) error
}

type storageClass struct {
	name      string
	isDefault bool
}

// WithCeph starts a real Ceph cluster (internal/cephenv) too, after the API
// server and before the tests; Fixture.Ceph and cephenv.Require return it.
func WithCeph() Option {
	return func(o *mainOptions) { o.ceph = true }
}

// WithStorageClass creates a ceph-csi RBD storage class (CreateStorageClass),
// the cluster's default one when isDefault is true.
func WithStorageClass(name string, isDefault bool) Option {
	return func(o *mainOptions) { o.classes = append(o.classes, storageClass{name, isDefault}) }
}

// WithSetup calls setup with the environment before the tests, after the
// storage classes and any earlier WithSetup; an error fails the run.
func WithSetup(setup func(context.Context, *Env) error) Option {
	return func(o *mainOptions) { o.setups = append(o.setups, setup) }
}

// Main is the whole TestMain of a package whose tests need a real API
// server: it starts an Env (and with WithCeph a Ceph cluster), sets up what
// the options ask for, runs the tests, stops everything and exits.
//
// With -short, or when the binaries or CRDs (or with WithCeph the Ceph
// programs) are missing, it runs the tests without them and Require,
// NewFixture and cephenv.Require skip, except that in CI (CI=true) anything
// missing fails the run: CI must never silently skip.
func Main(m *testing.M, opts ...Option) {
	os.Exit(run(m, opts...))
}

func run(m daemon.Runner, opts ...Option) int {
	var o mainOptions
	for _, opt := range opts {
		opt(&o)
	}
	tests := m
	withCeph = o.ceph
	if o.ceph {
		tests = daemon.RunFunc(func() int { return cephenv.Run(m, nil) })
	}
	return state.RunMain(tests, daemon.MainOptions[*Env]{
		Name:    "testenv",
		What:    "the test environment",
		Short:   "no real API server in -short mode",
		Timeout: startTimeout,
		Missing: func() error { return Missing(Options{}) },
		Start: func(ctx context.Context, logf func(string, ...any)) (*Env, error) {
			return Start(ctx, Options{Logf: logf})
		},
		Stop:  (*Env).Stop,
		Setup: o.setup,
	})
}

func (o mainOptions) setup(e *Env) error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	for _, sc := range o.classes {
		if err := e.CreateStorageClass(ctx, sc.name, sc.isDefault); err != nil {
			return err
		}
	}
	for _, setup := range o.setups {
		if err := setup(ctx, e); err != nil {
			return fmt.Errorf("WithSetup: %w", err)
		}
	}
	return nil
}

// Require returns the environment Main started, or skips t saying why there
// is none.
func Require(t testing.TB) *Env {
	t.Helper()
	return state.Require(t, "testenv", "testenv.Main(m, ...)")
}
