package plugin

import "strings"

// Spec forms, as rbd writes them; messages name the one expected.
const (
	imageSpecForm    = "POOL/IMAGE"
	snapshotSpecForm = "POOL/IMAGE@SNAP"
)

// parseImageSpec splits rbd's POOL/IMAGE. It is strict where rbd is
// lenient: no default pool and no namespaces, so that a typo cannot name
// another image than the one meant.
func parseImageSpec(spec string) (pool, image string, err error) {
	if strings.Contains(spec, "@") {
		return "", "", usageErrorf("image %q: expected %s, an image rather than a snapshot", spec, imageSpecForm)
	}
	pool, image, ok := strings.Cut(spec, "/")
	if !ok || strings.Contains(image, "/") || pool == "" || image == "" {
		return "", "", usageErrorf("image %q: expected %s, e.g. replicapool/csi-vol-0a1b", spec, imageSpecForm)
	}
	return pool, image, nil
}

// parseSnapshotSpec splits rbd's POOL/IMAGE@SNAP, as strictly as
// parseImageSpec.
func parseSnapshotSpec(spec string) (pool, image, snap string, err error) {
	head, snap, ok := strings.Cut(spec, "@")
	if !ok || strings.Contains(snap, "@") || strings.Contains(snap, "/") || snap == "" {
		return "", "", "", usageErrorf("snapshot %q: expected %s, e.g. replicapool/csi-vol-0a1b@before-upgrade", spec, snapshotSpecForm)
	}
	pool, image, ok = strings.Cut(head, "/")
	if !ok || strings.Contains(image, "/") || pool == "" || image == "" {
		return "", "", "", usageErrorf("snapshot %q: expected %s, e.g. replicapool/csi-vol-0a1b@before-upgrade", spec, snapshotSpecForm)
	}
	return pool, image, snap, nil
}

// parseSnapshotName takes the bare SNAP that goes with --pvc.
func parseSnapshotName(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/@") {
		return "", usageErrorf("snapshot %q: with --pvc, give the bare snapshot name (SNAP, not %s)", name, snapshotSpecForm)
	}
	return name, nil
}

func imageSpec(pool, image string) string { return pool + "/" + image }

func snapshotSpec(pool, image, snap string) string { return pool + "/" + image + "@" + snap }
