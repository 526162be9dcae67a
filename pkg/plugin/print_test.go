package plugin

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	applicationv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/application/v1"
	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func sampleDataVolumes(created time.Time) []*instancev1.DataVolume {
	ts := timestamppb.New(created)
	return []*instancev1.DataVolume{
		{
			Name: "debian-12", Namespace: "vms", BootImage: true, Phase: "ImportInProgress", Progress: "45.67%",
			SizeBytes: 20 << 30, CreatedAt: ts,
			Source:        &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_HTTP_URL, Data: "https://example.com/debian-12.qcow2"},
			LastCondition: &instancev1.DataVolume_Condition{Type: "Running", Status: "True", Reason: "Pod is running"},
			// Left to the StorageProfile, which makes a ceph-csi claim Block.
			PersistentVolumeClaim: &applicationv1.Application_PersistentVolumeClaim{
				Name: "debian-12", Status: "Bound", Capacity: "20Gi", AccessModes: []string{"ReadWriteOnce"},
				StorageClass: &applicationv1.StorageClass{Name: "ceph-block"},
				VolumeMode:   "Block", RequestBytes: 20 << 30,
			},
		},
		{
			// A Filesystem disk of 1Gi: CDI asks more for the file system's
			// overhead (observed: 1138166334 bytes), and the claim is not
			// bound yet; the populator path leaves the phase empty.
			Name: "scratch", Namespace: "default", SizeBytes: 1 << 30, CreatedAt: ts, VolumeMode: "Filesystem",
			Source:        &instancev1.DataVolume_Source{},
			LastCondition: &instancev1.DataVolume_Condition{Type: "Bound", Status: "False", Reason: "Pending", Message: "PVC scratch Pending"},
			PersistentVolumeClaim: &applicationv1.Application_PersistentVolumeClaim{
				Name: "scratch", Status: "Pending", AccessModes: []string{"ReadWriteOnce"},
				VolumeMode: "Filesystem", RequestBytes: 1138166334,
			},
		},
		{
			Name: "web-copy", Namespace: "vms", Phase: "CloneScheduled", Progress: "N/A", CreatedAt: ts,
			Source:       &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM, Data: "golden/web"},
			StorageClass: "ceph-block",
		},
	}
}

// What a person reads: the tables, in every layout.
func TestDataVolumeTables(t *testing.T) {
	fixed := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return fixed }
	dvs := sampleDataVolumes(fixed.Add(-90 * time.Minute))

	for _, tt := range []struct {
		file  string
		flags PrintFlags
		allNS bool
	}{
		{"table.golden", PrintFlags{}, false},
		{"table-all-namespaces.golden", PrintFlags{}, true},
		{"table-wide.golden", PrintFlags{Output: "wide"}, true},
		{"table-no-headers.golden", PrintFlags{NoHeaders: true}, false},
		{"name.golden", PrintFlags{Output: "name"}, false},
		{"list.json.golden", PrintFlags{Output: "json"}, false},
		{"list.yaml.golden", PrintFlags{Output: "yaml"}, false},
	} {
		t.Run(tt.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := printDataVolumes(&buf, tt.flags, dvs, tt.allNS, false); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.file, buf.Bytes())
		})
	}
	t.Run("single.json.golden", func(t *testing.T) {
		var buf bytes.Buffer
		if err := printDataVolumes(&buf, PrintFlags{Output: "json"}, dvs[1:2], false, true); err != nil {
			t.Fatal(err)
		}
		golden(t, "single.json.golden", buf.Bytes())
	})
}
