// Command sandbox starts a local kube-apiserver with the CDI CRDs and, when
// Ceph's packages are installed, a one-OSD Ceph that Rook's objects in the
// cluster point at, for trying the plugin by hand (`make testenv`) or in a
// scripted demo (`make demo`); it stops them on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// storageClass is the sandbox's default class, named like the one in the
// clusters the plugin targets.
const storageClass = "ceph-block"

func main() {
	demo := flag.Bool("demo", false, "run the plugin through a scripted demo against the sandbox, then exit")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, *demo)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, demo bool) (err error) {
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	env, err := testenv.Start(startCtx, testenv.Options{
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := env.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stop: %w", stopErr))
		}
	}()
	if err := env.CreateStorageClass(ctx, storageClass, true); err != nil {
		return err
	}
	ceph, err := startCeph(startCtx, env)
	if err != nil {
		return fmt.Errorf("start ceph: %w", err)
	}
	if ceph != nil {
		defer func() {
			if stopErr := ceph.Stop(); stopErr != nil {
				err = errors.Join(err, fmt.Errorf("stop ceph: %w", stopErr))
			}
		}()
	}

	if demo {
		return runDemo(ctx, env, ceph, out)
	}
	printBanner(out, env, ceph != nil)
	<-ctx.Done()
	fmt.Fprintln(out, "stopping the sandbox")
	return nil
}

func printBanner(out io.Writer, env *testenv.Env, ceph bool) {
	fmt.Fprintf(out, `
A local sandbox API server is running at %s.
It has the CDI CRDs (DataVolume, StorageProfile, ...) and a default storage
class %q, but no CDI controller, kubelet or controller manager: nothing
imports data or binds claims by itself.

  kubeconfig: %s
  contexts:   %s (current), %s, %s, %s

  export KUBECONFIG=%s

Ctrl-C stops it and removes %s.
`, env.Server, storageClass, env.Kubeconfig,
		testenv.ContextAdmin, testenv.ContextOther, testenv.ContextNobody, testenv.ContextBadToken,
		env.Kubeconfig, env.Dir)
	if ceph {
		fmt.Fprintf(out, `
A one-OSD Ceph runs beside it, with an RBD pool %q holding the image %q.
Rook's objects in namespace %q point at it, so the RBD commands find it
as they would on an OtterScale cluster:

  kubectl otterscale image list
  kubectl otterscale snapshot create %s/%s@first
`, cephenv.PoolName, sandboxImage, rookNamespace, cephenv.PoolName, sandboxImage)
	}
}
