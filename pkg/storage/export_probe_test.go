//go:build cgo && pacific

package storage

// Probing says ServeProbe turned probing on in this process.
func Probing() bool { return probing.Load() }

// RunProbe is what a probe child runs.
var RunProbe = runProbe
