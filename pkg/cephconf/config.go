// Package cephconf owns how to reach one Ceph cluster: Config, what a Ceph
// worker is started with (package worker hands it over on the worker's
// stdin), and Flags, the user's explicit choices that finding it starts
// from. Finding it (flags, Rook, ceph-csi, /etc/ceph, keyrings) is package
// cephconf/discover.
//
// This package imports only the standard library, so that otterscale-ceph,
// which links it, links no Kubernetes client: discover, which reads the
// cluster's objects, is a package of its own for that reason.
package cephconf

import (
	"fmt"
	"time"
)

// DefaultTimeout bounds connecting to Ceph and each librados operation:
// librados would otherwise wait 300 s on a dead monitor or a wrong key.
const DefaultTimeout = 5 * time.Second

// DefaultRookNamespace is where discover.Find looks for Rook unless told
// otherwise.
const DefaultRookNamespace = "rook-ceph"

// Config is how to reach one Ceph cluster, wherever it was found. It is
// what a Ceph worker's parent sends it on stdin.
type Config struct {
	// MonHost is the mon_host option.
	MonHost string `json:"monHost,omitempty"`
	// User is the Ceph user without "client.".
	User string `json:"user,omitempty"`
	// Key is the user's secret. Never print it: String leaves it out.
	Key string `json:"key,omitempty"`
	// ConfFile, when set, is read before MonHost and Key are applied.
	ConfFile string `json:"confFile,omitempty"`
	// Source says where the configuration came from, for messages, e.g.
	// `Rook (namespace "rook-ceph")`.
	Source string `json:"source,omitempty"`
	// Timeout bounds connecting and each operation.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// String describes the configuration without its key.
func (c Config) String() string {
	return fmt.Sprintf("Ceph at %s as client.%s (from %s)", c.MonHost, c.User, c.Source)
}

// GoString keeps the key out of %#v too.
func (c Config) GoString() string { return c.String() }

// Flags are the user's explicit choices (flags or environment), the first
// place discover.Find looks.
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
	// RookNamespace is where Rook's objects are; DefaultRookNamespace when
	// empty.
	RookNamespace string
	// Timeout bounds connecting and each operation; DefaultTimeout when 0.
	Timeout time.Duration
}
