package main

import (
	"bytes"
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// rookNamespace is where the plugin looks for Rook by default.
const rookNamespace = "rook-ceph"

// sandboxImage is the RBD image the sandbox starts with, as if a VM's disk.
const sandboxImage = "vm-disk"

// startCeph starts a one-OSD Ceph beside the API server when Ceph's
// packages are installed, and writes Rook's objects into the cluster so
// that the plugin finds it the way it finds Ceph on an OtterScale cluster.
// It returns nil, without an error, when Ceph is not installed.
func startCeph(ctx context.Context, env *testenv.Env) (*cephenv.Cluster, error) {
	if err := cephenv.Missing(); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: no Ceph (%v); the RBD commands have nothing to talk to\n", err)
		return nil, nil
	}
	c, err := cephenv.Start(ctx, cephenv.Options{
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		return nil, err
	}
	if err := rookObjects(ctx, env, c); err != nil {
		_ = c.Stop()
		return nil, err
	}
	if err := c.CreateImage(ctx, sandboxImage, 64<<20); err != nil {
		_ = c.Stop()
		return nil, err
	}
	if err := c.WriteImage(ctx, sandboxImage, 0, bytes.Repeat([]byte("otterscale"), 400_000)); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

// rookObjects puts Rook's Secret and ConfigMap, pointing at c, into the
// namespace Rook uses by default.
func rookObjects(ctx context.Context, env *testenv.Env, c *cephenv.Cluster) error {
	core := env.Kube.CoreV1()
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: rookNamespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	return c.WriteRook(ctx, core, rookNamespace)
}
