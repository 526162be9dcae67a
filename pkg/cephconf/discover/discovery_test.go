package discover_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	corev1 "k8s.io/api/core/v1"
	storagev1k "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf/discover"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

const mib = 1 << 20

// monAddr is the monitor's address as Rook and ceph-csi write it.
func monAddr(t *testing.T, c *cephenv.Cluster) string {
	t.Helper()
	addr, err := c.MonAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// listVia lists images in the Ceph that Find finds by itself for the test
// API server's default scope, through a real Ceph worker, as the storage
// service does: what was found must also connect.
func listVia(t *testing.T, env *testenv.Env, flags cephconf.Flags) ([]*storagev1.Image, error) {
	t.Helper()
	ctx := t.Context()
	clients, err := env.Provider("").Clients(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := discover.Find(ctx, flags, clients)
	if err != nil {
		return nil, err
	}
	pool := worker.NewPool(worker.Options{})
	defer pool.Close()
	w, err := pool.Get(ctx, cfg)
	if err != nil {
		return nil, err
	}
	resp, err := w.Storage.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{}))
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetImages(), nil
}

// Rook's objects in the cluster, pointing at the test Ceph, are enough.
func TestFindThroughRook(t *testing.T) {
	env, c := testenv.Require(t), cephenv.Require(t)
	ctx := t.Context()
	ns := env.NewNamespace(t, "rook")
	if err := c.CreateImage(ctx, "rook-img", 8*mib); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRook(ctx, env.Kube.CoreV1(), ns); err != nil {
		t.Fatal(err)
	}
	images, err := listVia(t, env, cephconf.Flags{RookNamespace: ns, Timeout: 3e9})
	if err != nil {
		t.Fatal(err)
	}
	if !hasImage(images, "rook-img") {
		t.Errorf("rook-img missing from %v", images)
	}
}

// ceph-csi's StorageClass, its secret and ceph-csi-config, with the
// least-privilege user ceph-csi has.
func TestFindThroughCephCSI(t *testing.T) {
	env, c := testenv.Require(t), cephenv.Require(t)
	ctx := t.Context()
	ns := env.NewNamespace(t, "ceph-csi")
	if err := c.CreateImage(ctx, "csi-img", 8*mib); err != nil {
		t.Fatal(err)
	}
	core := env.Kube.CoreV1()
	if _, err := core.Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "csi-rbd-secret"},
		StringData: map[string]string{"userID": c.User, "userKey": c.UserKey},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph-csi-config"},
		Data:       map[string]string{"config.json": fmt.Sprintf(`[{"clusterID":%q,"monitors":[%q]}]`, c.FSID, monAddr(t, c))},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sc := &storagev1k.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "csi-rbd-" + testenv.Suffix()},
		Provisioner: "rbd.csi.ceph.com",
		Parameters: map[string]string{
			"clusterID": c.FSID, "pool": c.Pool,
			"csi.storage.k8s.io/provisioner-secret-name": "csi-rbd-secret", "csi.storage.k8s.io/provisioner-secret-namespace": ns,
		},
	}
	if _, err := env.Kube.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Kube.StorageV1().StorageClasses().Delete(ctx, sc.Name, metav1.DeleteOptions{}) }()

	// Rook's namespace is empty here, so ceph-csi's objects are what apply.
	images, err := listVia(t, env, cephconf.Flags{RookNamespace: "no-rook", Timeout: 3e9})
	if err != nil {
		t.Fatal(err)
	}
	if !hasImage(images, "csi-img") {
		t.Errorf("csi-img missing from %v", images)
	}
}

// The local /etc/ceph comes last; with nothing anywhere, the error says
// what was tried.
func TestFindThroughEtcCephAndNothing(t *testing.T) {
	env, c := testenv.Require(t), cephenv.Require(t)
	dir := t.TempDir()
	conf := fmt.Sprintf("[global]\nmon host = %s\n", c.MonHost)
	if err := os.WriteFile(filepath.Join(dir, "ceph.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	keyring := fmt.Sprintf("[client.admin]\n\tkey = %s\n", c.AdminKey)
	if err := os.WriteFile(filepath.Join(dir, "ceph.client.admin.keyring"), []byte(keyring), 0o600); err != nil {
		t.Fatal(err)
	}
	restore := discover.SetEtcCeph(dir)
	defer restore()
	if _, err := listVia(t, env, cephconf.Flags{RookNamespace: "no-rook", Timeout: 3e9}); err != nil {
		t.Fatalf("through %s: %v", dir, err)
	}

	discover.SetEtcCeph(filepath.Join(dir, "nothing-here"))
	_, err := listVia(t, env, cephconf.Flags{RookNamespace: "no-rook", Timeout: 3e9})
	wantCode(t, err, connect.CodeFailedPrecondition)
	for _, tried := range []string{"flags", "Rook", "ceph-csi", "nothing-here"} {
		if !strings.Contains(message(err), tried) {
			t.Errorf("message %q does not say it tried %s", message(err), tried)
		}
	}
}

func hasImage(images []*storagev1.Image, name string) bool {
	for _, img := range images {
		if img.GetName() == name {
			return true
		}
	}
	return false
}
