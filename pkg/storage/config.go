package storage

import (
	"fmt"
	"time"
)

// DefaultTimeout bounds connecting to Ceph and each operation: librados
// would otherwise wait 300 s on a dead monitor or a wrong key.
const DefaultTimeout = 5 * time.Second

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

// Config is how to reach one Ceph cluster, wherever it was found.
type Config struct {
	// MonHost is the mon_host option.
	MonHost string
	// User is the Ceph user without "client.".
	User string
	// Key is the user's secret. Never print it: String leaves it out.
	Key string
	// ConfFile, when set, is read before MonHost and Key are applied.
	ConfFile string
	// Source says where the configuration came from, for messages, e.g.
	// `Rook (namespace "rook-ceph")`.
	Source string
	// Timeout bounds connecting and each operation.
	Timeout time.Duration
}

// String describes the configuration without its key.
func (c Config) String() string {
	return fmt.Sprintf("Ceph at %s as client.%s (from %s)", c.MonHost, c.User, c.Source)
}

// GoString keeps the key out of %#v too.
func (c Config) GoString() string { return c.String() }
