package plugin

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

func sampleSnapshots() []*storagev1.Image_Snapshot {
	return []*storagev1.Image_Snapshot{
		{Name: "golden", Protected: true, QuotaBytes: 10 << 30, UsedBytes: 1610612736},
		{Name: "before-upgrade", QuotaBytes: 20 << 30, UsedBytes: 4 << 20},
		{Name: "empty", QuotaBytes: 20 << 30},
	}
}

func sampleImages(created time.Time) []*storagev1.Image {
	ts := timestamppb.New(created)
	return []*storagev1.Image{
		{
			Name: "csi-vol-0a1b", PoolName: "replicapool",
			ObjectSizeBytes: 4 << 20, StripeUnitBytes: 4 << 20, StripeCount: 1,
			QuotaBytes: 20 << 30, UsedBytes: 3 << 29, ObjectCount: 5120,
			Layering: true, ExclusiveLock: true, ObjectMap: true, FastDiff: true, DeepFlatten: true,
			CreatedAt: ts, Snapshots: sampleSnapshots(),
		},
		{
			Name: "scratch", PoolName: "rbd",
			ObjectSizeBytes: 1 << 22, StripeUnitBytes: 64 << 10, StripeCount: 16,
			QuotaBytes: 1 << 30, ObjectCount: 256, Layering: true,
			CreatedAt: timestamppb.New(created.Add(-49 * time.Hour)),
		},
		{Name: "bare", PoolName: "rbd", QuotaBytes: 512},
	}
}

// What a person reads: snapshot tables, in every layout.
func TestSnapshotTables(t *testing.T) {
	snaps := sampleSnapshots()
	for _, tt := range []struct {
		file   string
		flags  PrintFlags
		single bool
	}{
		{"snapshot-table.golden", PrintFlags{}, false},
		{"snapshot-table-wide.golden", PrintFlags{Output: "wide"}, false},
		{"snapshot-table-no-headers.golden", PrintFlags{NoHeaders: true}, false},
		{"snapshot-name.golden", PrintFlags{Output: "name"}, false},
		{"snapshot-list.json.golden", PrintFlags{Output: "json"}, false},
		{"snapshot-list.yaml.golden", PrintFlags{Output: "yaml"}, false},
		{"snapshot-single.json.golden", PrintFlags{Output: "json"}, true},
	} {
		t.Run(tt.file, func(t *testing.T) {
			in := snaps
			if tt.single {
				in = snaps[:1]
			}
			var buf bytes.Buffer
			if err := printSnapshots(&buf, tt.flags, "replicapool", "csi-vol-0a1b", in, tt.single); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.file, buf.Bytes())
		})
	}
}

// And image tables.
func TestImageTables(t *testing.T) {
	fixed := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return fixed }
	images := sampleImages(fixed.Add(-90 * time.Minute))
	for _, tt := range []struct {
		file  string
		flags PrintFlags
	}{
		{"image-table.golden", PrintFlags{}},
		{"image-table-wide.golden", PrintFlags{Output: "wide"}},
		{"image-name.golden", PrintFlags{Output: "name"}},
		{"image-list.json.golden", PrintFlags{Output: "json"}},
		{"image-list.yaml.golden", PrintFlags{Output: "yaml"}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := printImages(&buf, tt.flags, images); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.file, buf.Bytes())
		})
	}
}

func TestIECBytes(t *testing.T) {
	for _, tt := range []struct {
		in   uint64
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1023, "1023B"},
		{1024, "1KiB"},
		{1536, "1.5KiB"},
		{4 << 20, "4MiB"},
		{1610612736, "1.5GiB"},
		{10 << 30, "10GiB"},
		{(10 << 30) + (1 << 20), "10GiB"},  // 10.001 rounds to 10
		{(1 << 30) + 107374183, "1.1GiB"},  // 1.1
		{(1 << 20) - 1, "1MiB"},            // 1023.999KiB rounds up a unit
		{(1 << 30) - (1 << 20), "1023MiB"}, // stays
		{(1 << 30) - 50*(1<<10), "1GiB"},   // 1023.95MiB rounds up
		{3 << 40, "3TiB"},
		{1 << 60, "1EiB"},
		{^uint64(0), "16EiB"},
	} {
		if got := iecBytes(tt.in); got != tt.want {
			t.Errorf("iecBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
