//go:build !cgo || !pacific

package storage

// Supported says whether this build can talk to Ceph.
const Supported = false

func dial(*Config) (backend, error) { return nil, errNoCeph() }
