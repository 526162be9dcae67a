package plugin_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	"sigs.k8s.io/yaml"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
	"github.com/otterscale/kubectl-otterscale/pkg/plugin"
)

// The commands run against a real API server and, for the RBD commands, a
// real Ceph.
func TestMain(m *testing.M) {
	testenv.Main(m, testenv.WithCeph(), testenv.WithStorageClass(testenv.StorageClass, true))
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs the command in process, exactly as main does.
func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	root := plugin.NewCmdRoot(streams)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(t.Context())
	code := plugin.HandleError(&errOut, cmd, err)
	return result{out.String(), errOut.String(), code}
}

func (r result) want(t *testing.T, code int, stdout string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, stdout) {
		t.Fatalf("stdout does not contain %q:\n%s\nstderr: %s", stdout, r.stdout, r.stderr)
	}
}

// --help, version and flag errors must work with a kubeconfig that cannot
// even be parsed: they must never read it.
func TestHelpNeverReadsKubeconfig(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(broken, []byte("{{{ not a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", broken)
	for _, args := range [][]string{
		{"--help"},
		{"datavolume", "--help"},
		{"dv", "create", "--help"},
		{"dv", "list", "-h"},
		{"dv", "extend", "--help"},
		{"dv", "delete", "--help"},
		{"version"},
		{"--kubeconfig", broken, "dv", "get", "--help"},
	} {
		r := run(t, args...)
		if r.code != plugin.ExitOK || r.stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if args[0] != "version" && !strings.Contains(r.stdout, "kubectl otterscale") {
			t.Errorf("%v: help does not read \"kubectl otterscale\":\n%s", args, r.stdout)
		}
	}
	// Flag mistakes are usage errors, caught before any kubeconfig is read.
	for _, args := range [][]string{
		{"dv", "create", "x", "--bogus"},
		{"dv", "create"},
		{"dv", "create", "x"},
		{"dv", "create", "x", "--size", "0"},
		{"dv", "create", "x", "--size", "ten"},
		{"dv", "create", "x", "--size", "1Gi", "--url", "https://a/b", "--clone", "c"},
		{"dv", "extend", "x"},
		{"dv", "list", "-o", "xml"},
		{"dv", "list", "--filter", "odd"},
	} {
		r := run(t, args...)
		if r.code != plugin.ExitUsage || !strings.Contains(r.stderr, "error: ") || strings.Contains(r.stderr, "kubeconfig") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error (2) that never mentions the kubeconfig", args, r.code, r.stderr)
		}
	}
	// But a command that needs the cluster says what is wrong with it.
	r := run(t, "dv", "list")
	if r.code != plugin.ExitPrecondition {
		t.Errorf("list with a broken kubeconfig: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	run(t, "version").want(t, plugin.ExitOK, "kubectl-otterscale ")
	r := run(t, "version", "-o", "json")
	var v map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v["version"] == nil || v["goVersion"] == nil {
		t.Errorf("version -o json = %q (%v)", r.stdout, err)
	}
}

// The whole life of DataVolumes through the commands, checked in the API
// server.
func TestDataVolumeCommands(t *testing.T) {
	env := testenv.Require(t)
	ns := "cli-" + strings.ToLower(t.Name()[4:8])
	if _, err := env.Kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cdi, err := cdiclient.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	k := func(args ...string) result {
		return run(t, append([]string{"--kubeconfig", env.Kubeconfig, "-n", ns}, args...)...)
	}

	k("dv", "create", "blank1", "--size", "2Gi").want(t, plugin.ExitOK, "datavolume.cdi.kubevirt.io/blank1 created\n")
	// CDI's webhook refuses a disk under 1MiB; the plugin refuses it first,
	// as bad input, and creates nothing.
	r0 := k("dv", "create", "tiny", "--size", "512Ki")
	if r0.code != plugin.ExitUsage || r0.stdout != "" ||
		r0.stderr != "error: size_bytes: must be at least 1Mi (1048576 bytes), got 524288: CDI refuses smaller disks (\"Storage size should be at least 1MiB\")\n" {
		t.Errorf("create --size 512Ki: exit %d, stdout %q, stderr %q", r0.code, r0.stdout, r0.stderr)
	}
	if _, err := cdi.CdiV1beta1().DataVolumes(ns).Get(t.Context(), "tiny", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("create --size 512Ki left a data volume behind (get: %v)", err)
	}
	k("datavolume", "create", "img", "--size", "1073741824", "--boot-image", "--url", "https://example.com/img.qcow2", "--storage-class", "ceph-block").
		want(t, plugin.ExitOK, "datavolume.cdi.kubevirt.io/img created")
	r := k("dv", "create", "copy", "--clone", "img", "--access-mode", "ReadWriteMany", "--volume-mode", "Block", "-o", "json")
	// The clone's source claim does not exist until CDI makes it.
	if r.code != plugin.ExitNotFound || !strings.Contains(r.stderr, `source claim "img" not found in namespace "`+ns+`"`) {
		t.Fatalf("clone of a missing claim: exit %d, stderr %q", r.code, r.stderr)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: new("ceph-block"),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.BindClaim(t.Context(), ns, "img", resource.Quantity{}); err != nil {
		t.Fatal(err)
	}
	r = k("dv", "create", "copy", "--clone", "img", "--access-mode", "ReadWriteMany", "--volume-mode", "Block", "-o", "json")
	r.want(t, plugin.ExitOK, `"type": "TYPE_EXISTING_PERSISTENT_VOLUME_CLAIM"`)
	var created map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatalf("create -o json: %v\n%s", err, r.stdout)
	}
	if created["accessMode"] != "ReadWriteMany" || created["volumeMode"] != "Block" || created["phase"] != "" {
		t.Errorf("create -o json = %v", created)
	}

	// What the API server holds.
	dv, err := cdi.CdiV1beta1().DataVolumes(ns).Get(t.Context(), "img", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dv.Labels[instance.BootImageLabel] != "true" || dv.Spec.Source.HTTP.URL != "https://example.com/img.qcow2" ||
		*dv.Spec.Storage.StorageClassName != "ceph-block" {
		t.Errorf("img = %+v", dv)
	}

	// Listing, in each format.
	r = k("dv", "list")
	r.want(t, plugin.ExitOK, "NAME")
	for _, name := range []string{"blank1", "img", "copy"} {
		if !strings.Contains(r.stdout, name) {
			t.Errorf("list lacks %s:\n%s", name, r.stdout)
		}
	}
	k("dv", "get", "-o", "name", "--filter", "bootable").want(t, plugin.ExitOK, "datavolume.cdi.kubevirt.io/img\n")
	r = k("dv", "list", "-o", "wide")
	r.want(t, plugin.ExitOK, "STORAGECLASS")
	if !strings.Contains(r.stdout, "Bound") {
		t.Errorf("wide list lacks img's bound claim:\n%s", r.stdout)
	}
	r = run(t, "--kubeconfig", env.Kubeconfig, "dv", "list", "-A")
	r.want(t, plugin.ExitOK, "NAMESPACE")
	if !strings.Contains(r.stdout, ns) {
		t.Errorf("-A lacks namespace %s:\n%s", ns, r.stdout)
	}
	r = k("dv", "get", "img", "-o", "yaml")
	var got map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	claim, _ := got["persistentVolumeClaim"].(map[string]any)
	if got["name"] != "img" || got["bootImage"] != true || claim["status"] != "Bound" {
		t.Errorf("get -o yaml = %v", got)
	}
	r = k("dv", "get", "img", "nope", "blank1")
	if r.code != plugin.ExitNotFound || !strings.Contains(r.stdout, "img") || !strings.Contains(r.stdout, "blank1") ||
		!strings.Contains(r.stderr, `data volume "nope" not found`) {
		t.Errorf("get with one missing: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Extend the bound one; refuse the others with the right codes.
	k("dv", "extend", "img", "--size", "3Gi").want(t, plugin.ExitOK, "datavolume.cdi.kubevirt.io/img extended to 3Gi")
	got2, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Get(t.Context(), "img", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q := got2.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "3Gi" {
		t.Errorf("claim request after extend = %s", q.String())
	}
	if r := k("dv", "extend", "img", "--size", "2Gi"); r.code != plugin.ExitUsage || !strings.Contains(r.stderr, "claims can only grow") {
		t.Errorf("shrink: exit %d, %q", r.code, r.stderr)
	}
	if r := k("dv", "extend", "blank1", "--size", "3Gi"); r.code != plugin.ExitPrecondition {
		t.Errorf("extend without claim: exit %d, %q", r.code, r.stderr)
	}

	// Bad input never creates anything.
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"dv", "create", "Bad_Name", "--size", "1Gi"}, plugin.ExitUsage, "name: \"Bad_Name\" is not a valid name"},
		{[]string{"dv", "create", "u1", "--size", "1Gi", "--url", "ftp://x/y"}, plugin.ExitUsage, "must be an http:// or https:// URL"},
		{[]string{"dv", "create", "blank1", "--size", "1Gi"}, plugin.ExitExists, "already exists"},
		{[]string{"dv", "create", "x1", "--size", "1Gi", "--access-mode", "RWO"}, plugin.ExitUsage, "access_mode"},
		{[]string{"--context", "nobody", "dv", "create", "x2", "--size", "1Gi"}, plugin.ExitAuth, "forbidden"},
		{[]string{"--context", "badtoken", "dv", "list"}, plugin.ExitAuth, "Unauthorized"},
		{[]string{"--context", "nowhere", "dv", "list"}, plugin.ExitPrecondition, "nowhere"},
		{[]string{"--server", "https://127.0.0.1:1", "dv", "list"}, plugin.ExitUnavailable, "127.0.0.1:1"},
	} {
		r := k(tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.msg)
		}
	}
	list, err := cdi.CdiV1beta1().DataVolumes(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 3 {
		t.Errorf("%d data volumes, want the 3 created", len(list.Items))
	}

	// Delete, going on past a missing one.
	r = k("dv", "delete", "blank1", "missing", "copy")
	if r.code != plugin.ExitNotFound || !strings.Contains(r.stdout, `datavolume.cdi.kubevirt.io "blank1" deleted`) ||
		!strings.Contains(r.stdout, `"copy" deleted`) {
		t.Errorf("delete: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	list, err = cdi.CdiV1beta1().DataVolumes(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "img" {
		t.Errorf("after delete: %v", list.Items)
	}
	// An empty namespace says so, on stderr, like kubectl.
	k("dv", "delete", "img").want(t, plugin.ExitOK, "deleted")
	r = k("dv", "list")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "No DataVolumes found in "+ns+" namespace") {
		t.Errorf("empty list: %+v", r)
	}
}

// csiClaimImage creates namespace ns with a claim "web" bound the way
// ceph-csi binds it, and the 8 MiB RBD image its volume names; it returns
// the image's name.
func csiClaimImage(t *testing.T, env *testenv.Env, c *cephenv.Cluster, ns string) string {
	t.Helper()
	ctx := t.Context()
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("8Mi")}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.BindClaim(ctx, ns, "web", resource.Quantity{}); err != nil {
		t.Fatal(err)
	}
	pvc, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := env.Kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	image := pv.Spec.CSI.VolumeAttributes["imageName"]
	if err := c.CreateImage(ctx, image, 8<<20); err != nil {
		t.Fatal(err)
	}
	return image
}
