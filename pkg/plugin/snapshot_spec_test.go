package plugin

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSnapshotSpec(t *testing.T) {
	for _, tt := range []struct {
		name, spec             string
		pool, image, snap, bad string
	}{
		{name: "plain", spec: "rbd/disk@s1", pool: "rbd", image: "disk", snap: "s1"},
		{name: "csi names", spec: "replicapool/csi-vol-0a1b-2c3d@before-upgrade", pool: "replicapool", image: "csi-vol-0a1b-2c3d", snap: "before-upgrade"},
		{name: "dots and underscores", spec: "my.pool/img_1@snap.2024-11-25", pool: "my.pool", image: "img_1", snap: "snap.2024-11-25"},
		{name: "empty", spec: "", bad: `snapshot "": expected POOL/IMAGE@SNAP`},
		{name: "image only", spec: "rbd/disk", bad: "expected POOL/IMAGE@SNAP"},
		{name: "no pool", spec: "disk@s1", bad: "expected POOL/IMAGE@SNAP"},
		{name: "empty pool", spec: "/disk@s1", bad: "expected POOL/IMAGE@SNAP"},
		{name: "empty image", spec: "rbd/@s1", bad: "expected POOL/IMAGE@SNAP"},
		{name: "empty snap", spec: "rbd/disk@", bad: "expected POOL/IMAGE@SNAP"},
		{name: "namespace", spec: "rbd/ns/disk@s1", bad: "expected POOL/IMAGE@SNAP"},
		{name: "two ats", spec: "rbd/disk@s1@s2", bad: "expected POOL/IMAGE@SNAP"},
		{name: "slash in snap", spec: "rbd/disk@s/1", bad: "expected POOL/IMAGE@SNAP"},
		{name: "at before slash", spec: "rbd@disk/s1", bad: "expected POOL/IMAGE@SNAP"},
		{name: "separators only", spec: "/@", bad: "expected POOL/IMAGE@SNAP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pool, image, snap, err := parseSnapshotSpec(tt.spec)
			checkParse(t, err, tt.bad)
			if pool != tt.pool || image != tt.image || snap != tt.snap {
				t.Errorf("parseSnapshotSpec(%q) = %q, %q, %q; want %q, %q, %q", tt.spec, pool, image, snap, tt.pool, tt.image, tt.snap)
			}
		})
	}
}

func TestParseImageSpec(t *testing.T) {
	for _, tt := range []struct {
		name, spec       string
		pool, image, bad string
	}{
		{name: "plain", spec: "rbd/disk", pool: "rbd", image: "disk"},
		{name: "empty", spec: "", bad: `image "": expected POOL/IMAGE`},
		{name: "no pool", spec: "disk", bad: "expected POOL/IMAGE"},
		{name: "empty pool", spec: "/disk", bad: "expected POOL/IMAGE"},
		{name: "empty image", spec: "rbd/", bad: "expected POOL/IMAGE"},
		{name: "namespace", spec: "rbd/ns/disk", bad: "expected POOL/IMAGE"},
		{name: "a snapshot", spec: "rbd/disk@s1", bad: "an image rather than a snapshot"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pool, image, err := parseImageSpec(tt.spec)
			checkParse(t, err, tt.bad)
			if pool != tt.pool || image != tt.image {
				t.Errorf("parseImageSpec(%q) = %q, %q; want %q, %q", tt.spec, pool, image, tt.pool, tt.image)
			}
		})
	}
}

func TestParseSnapshotName(t *testing.T) {
	for _, tt := range []struct{ name, bad string }{
		{name: "before-upgrade"},
		{name: "", bad: "give the bare snapshot name"},
		{name: "rbd/disk@s1", bad: "give the bare snapshot name"},
		{name: "disk@s1", bad: "give the bare snapshot name"},
		{name: "a/b", bad: "give the bare snapshot name"},
	} {
		got, err := parseSnapshotName(tt.name)
		checkParse(t, err, tt.bad)
		if tt.bad == "" && got != tt.name {
			t.Errorf("parseSnapshotName(%q) = %q", tt.name, got)
		}
	}
}

// checkParse wants a usage error containing bad, or no error when bad is
// empty.
func checkParse(t *testing.T, err error, bad string) {
	t.Helper()
	if bad == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var ue usageError
	if !errors.As(err, &ue) || ExitCode(err) != ExitUsage {
		t.Fatalf("error %v (%T), want a usage error", err, err)
	}
	if got := err.Error(); !strings.Contains(got, bad) {
		t.Errorf("error %q does not contain %q", got, bad)
	}
}
