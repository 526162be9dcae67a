package discover_test

import (
	"errors"
	"testing"

	"connectrpc.com/connect"

	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// Finding Ceph through the cluster is checked against a real
// kube-apiserver holding Rook's and ceph-csi's objects, and what was found
// against a real Ceph (one monitor, one memstore OSD).
func TestMain(m *testing.M) { testenv.Main(m, testenv.WithCeph()) }

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
