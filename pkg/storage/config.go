package storage

import (
	"time"

	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// DefaultTimeout bounds connecting to Ceph and each operation: librados
// would otherwise wait 300 s on a dead monitor or a wrong key.
const DefaultTimeout = worker.DefaultTimeout

// Flags are the user's explicit choices (flags or environment), the first
// place Find looks.
type Flags struct {
	// Conf is a ceph.conf to read (mon_host, keyring).
	Conf string
	// Keyring is a keyring file holding the user's key.
	Keyring string
	// User is the Ceph user without "client.", e.g. "admin" or "csi".
	User string
	// MonHost is a mon_host value, e.g. "10.0.0.1:6789,10.0.0.2:6789".
	MonHost string
	// KeyFile holds the bare base64 key (as ceph-csi's userKey).
	KeyFile string
	// RookNamespace is where Rook's objects are; "rook-ceph" when empty.
	RookNamespace string
	// Timeout bounds connecting and each operation; DefaultTimeout when 0.
	Timeout time.Duration
}

// Config is how to reach one Ceph cluster, wherever it was found: what a
// Ceph worker is started with.
type Config = worker.Config
