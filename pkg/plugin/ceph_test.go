package plugin

import (
	"testing"
	"time"

	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
)

func TestCephFlagsFromEnvironment(t *testing.T) {
	for _, tt := range []struct {
		name  string
		flags CephFlags
		env   map[string]string
		want  cephconf.Flags
	}{
		{
			name:  "nothing",
			flags: *NewCephFlags(),
			want:  cephconf.Flags{RookNamespace: "rook-ceph", Timeout: cephconf.DefaultTimeout},
		},
		{
			name:  "environment",
			flags: *NewCephFlags(),
			env: map[string]string{
				"OTTERSCALE_CEPH_CONF": "/o/ceph.conf", "CEPH_CONF": "/std/ceph.conf",
				"OTTERSCALE_CEPH_KEYRING": "/o/keyring", "OTTERSCALE_CEPH_USER": "csi",
				"OTTERSCALE_CEPH_MON_HOST": "10.0.0.1:6789", "OTTERSCALE_CEPH_KEY_FILE": "/o/key",
			},
			want: cephconf.Flags{
				Conf: "/o/ceph.conf", Keyring: "/o/keyring", User: "csi", MonHost: "10.0.0.1:6789", KeyFile: "/o/key",
				RookNamespace: "rook-ceph", Timeout: cephconf.DefaultTimeout,
			},
		},
		{
			// A Ceph admin host's CEPH_CONF must not hide the cluster's Ceph.
			name:  "ceph's own CEPH_CONF is not read",
			flags: *NewCephFlags(),
			env:   map[string]string{"CEPH_CONF": "/std/ceph.conf"},
			want:  cephconf.Flags{RookNamespace: "rook-ceph", Timeout: cephconf.DefaultTimeout},
		},
		{
			name:  "flags win",
			flags: CephFlags{Conf: "/f/ceph.conf", User: "admin", MonHost: "10.9.9.9", RookNamespace: "storage", Timeout: time.Second},
			env:   map[string]string{"OTTERSCALE_CEPH_CONF": "/o/ceph.conf", "OTTERSCALE_CEPH_USER": "csi", "OTTERSCALE_CEPH_MON_HOST": "10.0.0.1", "OTTERSCALE_CEPH_KEY_FILE": "/o/key"},
			want:  cephconf.Flags{Conf: "/f/ceph.conf", User: "admin", MonHost: "10.9.9.9", KeyFile: "/o/key", RookNamespace: "storage", Timeout: time.Second},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			saved := getenv
			defer func() { getenv = saved }()
			getenv = func(k string) string { return tt.env[k] }
			if got := tt.flags.Storage(); got != tt.want {
				t.Errorf("Storage() = %+v\nwant       %+v", got, tt.want)
			}
		})
	}
}
