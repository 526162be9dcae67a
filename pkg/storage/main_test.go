package storage_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

// The tests run against a real Ceph (one monitor, one memstore OSD) and,
// for finding Ceph through the cluster, a real kube-apiserver.
func TestMain(m *testing.M) { testenv.Main(m, testenv.WithCeph()) }

// keyFile writes a bare key where --ceph-key-file would point.
func keyFile(t *testing.T, key string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// adminService talks to the test cluster as client.admin, found through
// explicit flags.
func adminService(t *testing.T, c *cephenv.Cluster) *storage.Service {
	t.Helper()
	svc := storage.New(nil, cephconf.Flags{MonHost: c.MonHost, KeyFile: keyFile(t, c.AdminKey), User: "admin"})
	t.Cleanup(svc.Close)
	return svc
}

func wantCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if got := connect.CodeOf(err); err == nil || got != code {
		t.Fatalf("want %v, got %v (%v)", code, got, err)
	}
}

func message(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}

// rbdJSON runs the rbd CLI and decodes its --format json answer: the
// results are checked with Ceph's own tool, not only through our code.
func rbdJSON(t *testing.T, c *cephenv.Cluster, v any, args ...string) {
	t.Helper()
	out, err := c.RBD(t.Context(), append(args, "--format", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("rbd %v: %v\n%s", args, err, out)
	}
}
