package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// Fixture is one test's share of the environment Main started: the Env
// (embedded), a namespace of the test's own, and the Ceph cluster when Main
// was given WithCeph.
type Fixture struct {
	*Env
	// Namespace is the test's own: "t-" and Suffix, created by NewFixture
	// and deleted when the test ends.
	Namespace string
	// Suffix is Namespace's random part, for other names of the test's own
	// (an RBD image, a storage class).
	Suffix string

	t testing.TB
}

// NewFixture returns t's fixture, or skips t as Require does when there is
// no environment.
func NewFixture(t testing.TB) *Fixture {
	t.Helper()
	env := Require(t)
	ns := env.NewNamespace(t, "t")
	return &Fixture{Env: env, Namespace: ns, Suffix: strings.TrimPrefix(ns, "t-"), t: t}
}

// Ceph returns the cluster Main started WithCeph, or skips the test saying
// why there is none (cephenv.Require).
func (f *Fixture) Ceph() *cephenv.Cluster {
	f.t.Helper()
	if !withCeph {
		f.t.Fatal("Fixture.Ceph needs testenv.WithCeph() in the package's testenv.Main")
	}
	return cephenv.Require(f.t)
}

// Provider is the plugin's own kubeconfig provider (what the commands and
// the proxy build from kubectl's flags) over the environment's kubeconfig:
// its empty scope is context (ContextAdmin when empty), and every Context*
// is a scope, the restricted ones included.
func (e *Env) Provider(context string) *cluster.Kubeconfig {
	flags := genericclioptions.NewConfigFlags(false)
	kubeconfig := e.Kubeconfig
	flags.KubeConfig = &kubeconfig
	if context != "" {
		flags.Context = &context
	}
	return cluster.NewKubeconfig(flags)
}

// NewNamespace creates a namespace of t's own, prefix, "-" and a Suffix,
// and deletes it when t ends. No namespace controller runs here, so the
// deletion only marks it (and forbids new objects in it); what the test
// left stays readable.
func (e *Env) NewNamespace(t testing.TB, prefix string) string {
	t.Helper()
	name := prefix + "-" + Suffix()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.Kube.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %q: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context() has ended by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := e.Kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %q: %v", name, err)
		}
	})
	return name
}

// Suffix returns eight random hex digits, for names no other test uses.
func Suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
