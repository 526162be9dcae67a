package plugin

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

// Pool tables as a person reads them, and the API's JSON and YAML: a
// replicated RBD pool with a quota and PG states, an erasure-coded RGW
// pool with overwrites, and one Ceph says nothing more of (no ceph-mgr).
func TestPoolTables(t *testing.T) {
	fixed := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return fixed }
	pools := []*storagev1.Pool{
		{
			Id: 1, Name: "replicapool", Type: storagev1.Pool_TYPE_REPLICATED, ReplicatedSize: 3,
			QuotaBytes: 1 << 40, UsedBytes: 3 << 29, UsedObjects: 412, MaxBytes: 200 << 30,
			PlacementGroupCount: 32, PlacementGroupState: map[string]int64{"active+clean": 31, "active+clean+scrubbing": 1},
			CreatedAt:    timestamppb.New(fixed.Add(-49 * time.Hour)),
			Applications: []storagev1.Pool_Application{storagev1.Pool_APPLICATION_BLOCK},
		},
		{
			Id: 7, Name: "objects.data", Type: storagev1.Pool_TYPE_ERASURE, EcOverwrites: true, DataChunks: 4, CodingChunks: 2,
			QuotaObjects: 100000, PlacementGroupCount: 64, CreatedAt: timestamppb.New(fixed.Add(-90 * time.Minute)),
			Applications: []storagev1.Pool_Application{storagev1.Pool_APPLICATION_OBJECT},
		},
		{Id: 9, Name: "bare", Type: storagev1.Pool_TYPE_REPLICATED, ReplicatedSize: 1, PlacementGroupCount: 8},
	}
	for _, tt := range []struct {
		file  string
		flags PrintFlags
	}{
		{"pool-table.golden", PrintFlags{}},
		{"pool-table-wide.golden", PrintFlags{Output: "wide"}},
		{"pool-name.golden", PrintFlags{Output: "name"}},
		{"pool-list.json.golden", PrintFlags{Output: "json"}},
		{"pool-list.yaml.golden", PrintFlags{Output: "yaml"}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := printPools(&buf, tt.flags, pools); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.file, buf.Bytes())
		})
	}
}
