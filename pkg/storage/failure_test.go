package storage_test

import (
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

func sleep(t *testing.T) {
	t.Helper()
	select {
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	case <-time.After(100 * time.Millisecond):
	}
}

// A wrong key is unauthenticated; a stopped monitor is unavailable, and
// says so instead of hanging for librados' 300 s. Both fail in the Ceph
// worker, never in this process.
func TestConnectionFailures(t *testing.T) {
	c := cephenv.Require(t)
	ctx := t.Context()
	list := func(flags cephconf.Flags) error {
		svc := storage.New(nil, flags)
		defer svc.Close()
		_, err := svc.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{}))
		return err
	}
	// A well-formed key that is not client.admin's.
	err := list(cephconf.Flags{MonHost: c.MonHost, KeyFile: keyFile(t, c.UserKey), User: "admin", Timeout: 3 * time.Second})
	wantCode(t, err, connect.CodeUnauthenticated)
	if strings.Contains(message(err), c.UserKey) || strings.Contains(message(err), c.AdminKey) {
		t.Fatalf("the error shows a key: %q", message(err))
	}

	// The least-privilege user as ceph-csi has it works for its pool.
	if err := list(cephconf.Flags{MonHost: c.MonHost, KeyFile: keyFile(t, c.UserKey), User: c.User}); err != nil {
		t.Errorf("client.%s: %v", c.User, err)
	}

	if err := c.StopMon(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.StartMon(ctx); err != nil {
			t.Fatal(err)
		}
	}()
	err = list(cephconf.Flags{MonHost: c.MonHost, KeyFile: keyFile(t, c.AdminKey), Timeout: 2 * time.Second})
	wantCode(t, err, connect.CodeUnavailable)
	if !strings.Contains(message(err), "unreachable") {
		t.Errorf("message %q does not say the cluster is unreachable", message(err))
	}
}
