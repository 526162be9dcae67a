//go:build !cgo || !pacific

package storage

// Supported says whether this build can talk to Ceph.
const Supported = false

func dial(*Config) (backend, error) { return nil, errNoCeph() }

// ServeProbe does nothing in a build without Ceph: there is nothing to
// connect with, in this process or any other.
func ServeProbe() {}
