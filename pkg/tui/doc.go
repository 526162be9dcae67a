// Package tui owns the bubbletea models for watching and waiting on
// DataVolumes: the full-screen table of `datavolume watch`, the compact
// progress view of `--wait` (which renders what pkg/follow decides), and the
// plain one-line formats used off a terminal.
//
// It renders the generated instancev1 messages as they come off a watch
// channel; it knows nothing of cobra, the CLI or the proxy.
package tui
