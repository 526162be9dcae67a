package testenv_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

const storageClass = testenv.StorageClass

// setupSaw is what WithSetup's function was given: the environment with the
// storage classes already made.
var setupSaw struct {
	env     *testenv.Env
	classes []string
}

func TestMain(m *testing.M) {
	testenv.Main(m,
		testenv.WithStorageClass(storageClass, true),
		testenv.WithStorageClass("second", false),
		testenv.WithSetup(func(ctx context.Context, env *testenv.Env) error {
			setupSaw.env = env
			list, err := env.Kube.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
			for _, sc := range list.Items {
				setupSaw.classes = append(setupSaw.classes, sc.Name)
			}
			return err
		}))
}

// Main made the classes it was asked for, the default one marked, before
// calling WithSetup's function with the environment Require returns.
func TestMainOptions(t *testing.T) {
	env := testenv.Require(t)
	if setupSaw.env != env {
		t.Errorf("WithSetup got %p, Require returns %p", setupSaw.env, env)
	}
	if !slices.Equal(setupSaw.classes, []string{storageClass, "second"}) {
		t.Errorf("WithSetup saw the storage classes %q, want %q", setupSaw.classes, []string{storageClass, "second"})
	}
	for name, isDefault := range map[string]string{storageClass: "true", "second": ""} {
		sc, err := env.Kube.StorageV1().StorageClasses().Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := sc.Annotations["storageclass.kubernetes.io/is-default-class"]; got != isDefault {
			t.Errorf("class %s: is-default-class %q, want %q", name, got, isDefault)
		}
	}
}

// A fixture's namespace is its test's own, and is deleted when the test
// ends; its providers see the kubeconfig's contexts as the plugin does.
func TestFixture(t *testing.T) {
	env := testenv.Require(t)
	var first, second string
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			f := testenv.NewFixture(t)
			if f.Env != env {
				t.Errorf("fixture's Env %p, Require's %p", f.Env, env)
			}
			if f.Namespace != "t-"+f.Suffix || len(f.Suffix) != 8 {
				t.Errorf("namespace %q, suffix %q", f.Namespace, f.Suffix)
			}
			ns, err := env.Kube.CoreV1().Namespaces().Get(t.Context(), f.Namespace, metav1.GetOptions{})
			if err != nil || ns.DeletionTimestamp != nil {
				t.Fatalf("namespace %s during the test: %v, %v", f.Namespace, ns, err)
			}
			if name == "first" {
				first = f.Namespace
			} else {
				second = f.Namespace
			}
		})
	}
	if first == second {
		t.Errorf("two tests got the same namespace %s", first)
	}
	for _, name := range []string{first, second} {
		ns, err := env.Kube.CoreV1().Namespaces().Get(t.Context(), name, metav1.GetOptions{})
		if err == nil && ns.DeletionTimestamp == nil {
			t.Errorf("namespace %s not deleted after its test", name)
		}
	}

	f := testenv.NewFixture(t)
	tests := []struct {
		context, scope string
		namespace      string
		check          func(error) bool // nil: the call must succeed
	}{
		{context: "", namespace: testenv.DefaultNamespace},
		{context: testenv.ContextOther, namespace: testenv.OtherNamespace},
		{context: testenv.ContextNobody, namespace: testenv.DefaultNamespace, check: apierrors.IsForbidden},
		{context: testenv.ContextBadToken, namespace: testenv.DefaultNamespace, check: apierrors.IsUnauthorized},
		// Any context is a scope, whichever the provider started in.
		{context: testenv.ContextNobody, scope: testenv.ContextAdmin, namespace: testenv.DefaultNamespace},
	}
	for _, tt := range tests {
		t.Run(tt.context+"/"+tt.scope, func(t *testing.T) {
			clients, err := f.Provider(tt.context).Clients(t.Context(), tt.scope)
			if err != nil {
				t.Fatal(err)
			}
			if clients.Namespace != tt.namespace {
				t.Errorf("namespace %q, want %q", clients.Namespace, tt.namespace)
			}
			_, err = clients.Core.Namespaces().Get(t.Context(), f.Namespace, metav1.GetOptions{})
			switch {
			case tt.check == nil && err != nil:
				t.Errorf("get the fixture's namespace: %v", err)
			case tt.check != nil && !tt.check(err):
				t.Errorf("get the fixture's namespace: got error %v, want another kind", err)
			}
		})
	}
}

var dataVolumes = schema.GroupVersionResource{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datavolumes"}

func TestDataVolumeCRDServed(t *testing.T) {
	env := testenv.Require(t)
	dv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cdi.kubevirt.io/v1beta1",
		"kind":       "DataVolume",
		"metadata":   map[string]any{"name": "blank"},
		"spec": map[string]any{
			"source": map[string]any{"blank": map[string]any{}},
			"storage": map[string]any{
				"resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}},
			},
		},
	}}
	client := env.Dynamic.Resource(dataVolumes).Namespace(testenv.DefaultNamespace)
	if _, err := client.Create(t.Context(), dv, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create data volume: %v", err)
	}
	got, err := client.Get(t.Context(), "blank", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get data volume: %v", err)
	}
	size, _, _ := unstructured.NestedString(got.Object, "spec", "storage", "resources", "requests", "storage")
	if size != "1Gi" {
		t.Errorf("spec.storage.resources.requests.storage = %q, want 1Gi", size)
	}
	if _, ok, _ := unstructured.NestedMap(got.Object, "spec", "source", "blank"); !ok {
		t.Errorf("spec.source.blank missing from %v", got.Object["spec"])
	}
}

func TestKubeconfigContexts(t *testing.T) {
	env := testenv.Require(t)
	tests := []struct {
		context   string // "" for the current context
		namespace string
		check     func(error) bool // nil: the call must succeed
	}{
		{context: "", namespace: "default"},
		{context: testenv.ContextAdmin, namespace: "default"},
		{context: testenv.ContextOther, namespace: testenv.OtherNamespace},
		{context: testenv.ContextNobody, namespace: "default", check: apierrors.IsForbidden},
		{context: testenv.ContextBadToken, namespace: "default", check: apierrors.IsUnauthorized},
	}
	for _, tt := range tests {
		t.Run("context="+tt.context, func(t *testing.T) {
			cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				&clientcmd.ClientConfigLoadingRules{ExplicitPath: env.Kubeconfig},
				&clientcmd.ConfigOverrides{CurrentContext: tt.context})
			ns, _, err := cc.Namespace()
			if err != nil {
				t.Fatalf("namespace: %v", err)
			}
			if ns != tt.namespace {
				t.Errorf("namespace = %q, want %q", ns, tt.namespace)
			}
			cfg, err := cc.ClientConfig()
			if err != nil {
				t.Fatalf("client config: %v", err)
			}
			if cfg.Insecure || len(cfg.CAData) == 0 {
				t.Errorf("config trusts the server without its CA (insecure=%v, %d bytes of CA)", cfg.Insecure, len(cfg.CAData))
			}
			kube := kubernetes.NewForConfigOrDie(cfg)
			_, err = kube.CoreV1().Namespaces().List(t.Context(), metav1.ListOptions{})
			switch {
			case tt.check == nil && err != nil:
				t.Errorf("list namespaces: %v", err)
			case tt.check != nil && !tt.check(err):
				t.Errorf("list namespaces: got error %v, want another kind", err)
			}
			if tt.check == nil {
				// The namespace of the context must exist.
				if _, err := kube.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); err != nil {
					t.Errorf("get namespace %q: %v", ns, err)
				}
			}
		})
	}
}

func TestBindClaim(t *testing.T) {
	env := testenv.Require(t)
	tests := []struct {
		name     string
		request  string
		capacity string // "" for the claim's request
		want     string
	}{
		{name: "claim-request", request: "1Gi", want: "1Gi"},
		{name: "given-capacity", request: "1Gi", capacity: "2Gi", want: "2Gi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			claims := env.Kube.CoreV1().PersistentVolumeClaims(testenv.DefaultNamespace)
			pvc := &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: tt.name},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(tt.request)},
					},
				},
			}
			if _, err := claims.Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create claim: %v", err)
			}
			var capacity resource.Quantity
			if tt.capacity != "" {
				capacity = resource.MustParse(tt.capacity)
			}
			if err := env.BindClaim(ctx, testenv.DefaultNamespace, tt.name, capacity); err != nil {
				t.Fatalf("bind claim: %v", err)
			}

			got, err := claims.Get(ctx, tt.name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get claim: %v", err)
			}
			if got.Status.Phase != corev1.ClaimBound {
				t.Errorf("claim phase = %q, want Bound", got.Status.Phase)
			}
			if got.Spec.VolumeName == "" {
				t.Fatal("claim has no volumeName")
			}
			if c := got.Status.Capacity[corev1.ResourceStorage]; c.String() != tt.want {
				t.Errorf("claim capacity = %s, want %s", c.String(), tt.want)
			}
			// The default class, assigned by the DefaultStorageClass admission plugin.
			if sc := got.Spec.StorageClassName; sc == nil || *sc != storageClass {
				t.Errorf("claim storage class = %v, want %q", sc, storageClass)
			}

			pv, err := env.Kube.CoreV1().PersistentVolumes().Get(ctx, got.Spec.VolumeName, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get volume: %v", err)
			}
			if pv.Status.Phase != corev1.VolumeBound {
				t.Errorf("volume phase = %q, want Bound", pv.Status.Phase)
			}
			if ref := pv.Spec.ClaimRef; ref == nil || ref.Name != tt.name || ref.UID != got.UID {
				t.Errorf("volume claimRef = %+v, want the claim", ref)
			}
			if pv.Spec.StorageClassName != storageClass {
				t.Errorf("volume storage class = %q, want %q", pv.Spec.StorageClassName, storageClass)
			}
			if pv.Spec.CSI == nil || pv.Spec.CSI.Driver != testenv.CSIDriver {
				t.Errorf("volume source = %+v, want CSI driver %s", pv.Spec.PersistentVolumeSource, testenv.CSIDriver)
			}
		})
	}
}

func TestRestartAPIServer(t *testing.T) {
	env := testenv.Require(t)
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "before-restart"}}
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}

	start := time.Now()
	if err := env.RestartAPIServer(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Logf("restart took %s", time.Since(start).Round(time.Millisecond))

	// The same clients, unchanged, see the data kept in etcd.
	if _, err := env.Kube.CoreV1().Namespaces().Get(ctx, "before-restart", metav1.GetOptions{}); err != nil {
		t.Errorf("get namespace after restart: %v", err)
	}
	if _, err := env.Dynamic.Resource(dataVolumes).Namespace("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("list data volumes after restart: %v", err)
	}
}

// TestStartStop starts a second environment of its own, so it can stop it.
func TestStartStop(t *testing.T) {
	testenv.Require(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	start := time.Now()
	env, err := testenv.Start(ctx, testenv.Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Logf("start took %s", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(env.Kubeconfig); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}
	if err := env.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat(env.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after Stop (stat: %v)", env.Dir, err)
	}
	if err := env.Stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

// TestStartFailure checks that a failed Start says why and leaves nothing
// behind.
func TestStartFailure(t *testing.T) {
	testenv.Require(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	fakeEtcd := filepath.Join(t.TempDir(), "etcd")
	script := "#!/bin/sh\necho 'etcd: cannot start: no luck' >&2\nexit 3\n"
	if err := os.WriteFile(fakeEtcd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env, err := testenv.Start(t.Context(), testenv.Options{Etcd: fakeEtcd})
	if err == nil {
		_ = env.Stop()
		t.Fatal("start succeeded with a broken etcd")
	}
	if !strings.Contains(err.Error(), "no luck") {
		t.Errorf("error lacks the log tail: %v", err)
	}
	left, _ := os.ReadDir(tmp)
	if len(left) != 0 {
		t.Errorf("start left %d entries in TMPDIR, e.g. %s", len(left), left[0].Name())
	}
}

func TestMissing(t *testing.T) {
	err := testenv.Missing(testenv.Options{
		KubeAPIServer: "/nonexistent/kube-apiserver",
		Etcd:          "/nonexistent/etcd",
		CRDDir:        t.TempDir(),
	})
	if err == nil {
		t.Fatal("Missing found nothing missing")
	}
	for _, want := range []string{"kube-apiserver", "etcd", "CRDs", "make testenv-bins generate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// A test that asks for Ceph in a package whose Main did not is told how to
// ask (this package's Main has no WithCeph); it runs in a child test
// binary, which fails.
func TestFixtureCephNeedsWithCeph(t *testing.T) {
	if os.Getenv("TESTENV_CEPH_CHILD") == "1" {
		testenv.NewFixture(t).Ceph()
		return
	}
	testenv.Require(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestFixtureCephNeedsWithCeph$")
	cmd.Env = append(os.Environ(), "TESTENV_CEPH_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Fixture.Ceph needs testenv.WithCeph() in the package's testenv.Main") {
		t.Errorf("child: %v\n%s", err, out)
	}
}
