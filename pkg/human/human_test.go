package human

import (
	"testing"
	"time"

	applicationv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/application/v1"
	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

func TestSize(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, ""},
		{-1, ""},
		{512, "512"},
		{1023, "1023"},
		{1024, "1Ki"},
		{512 << 10, "512Ki"},
		{1 << 20, "1Mi"},
		{1086 << 20, "1086Mi"}, // what ceph-csi binds for a 1Gi Filesystem claim
		{10 << 30, "10Gi"},
		{3 << 39, "1536Gi"},
		{1138166334, "1.06Gi"}, // CDI's request for a 1Gi Filesystem disk
		{1536, "1.5Ki"},
		{1<<30 + 1, "1Gi"},      // inexact, and three digits do not show it
		{1<<20 - 1, "1Mi"},      // 1023.999Ki rounds up a unit
		{107374182401, "100Gi"}, // 100Gi and a byte
		{11811160065, "11Gi"},
		{12079595520 + 1, "11.3Gi"},
	} {
		if got := Size(tt.n); got != tt.want {
			t.Errorf("Size(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestAge(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		ago  time.Duration
		want string
	}{
		{0, "0s"},
		{-3 * time.Second, "0s"},
		{45 * time.Second, "45s"},
		{5*time.Minute + 30*time.Second, "5m30s"},
		{90 * time.Minute, "90m"},
		{3*time.Hour + 5*time.Minute, "3h5m"},
		{26 * time.Hour, "26h"},
		{12 * 24 * time.Hour, "12d"},
	} {
		if got := Age(now, now.Add(-tt.ago)); got != tt.want {
			t.Errorf("Age(%v ago) = %q, want %q", tt.ago, got, tt.want)
		}
	}
	if got := Age(now, time.Time{}); got != "" {
		t.Errorf("Age(zero) = %q, want \"\"", got)
	}
}

func TestPhase(t *testing.T) {
	if got := Phase(""); got != "Pending" {
		t.Errorf("Phase(\"\") = %q", got)
	}
	if got := Phase("ImportInProgress"); got != "ImportInProgress" {
		t.Errorf("Phase(ImportInProgress) = %q", got)
	}
}

// CDI's StorageProfile and filesystem overhead make the claim differ from
// what the DataVolume asked; views show the claim.
func TestClaimValues(t *testing.T) {
	asked := func(pvc *applicationv1.Application_PersistentVolumeClaim) *instancev1.DataVolume {
		return &instancev1.DataVolume{SizeBytes: 1 << 30, PersistentVolumeClaim: pvc}
	}
	for _, tt := range []struct {
		name       string
		dv         *instancev1.DataVolume
		mode, size string
		claim      int64
	}{
		{"no claim yet", asked(nil), "", "1Gi", 0},
		{"no claim, mode asked", &instancev1.DataVolume{SizeBytes: 1 << 30, VolumeMode: "Block"}, "Block", "1Gi", 0},
		{"pending block claim", asked(&applicationv1.Application_PersistentVolumeClaim{Status: "Pending", VolumeMode: "Block", RequestBytes: 1 << 30}), "Block", "1Gi", 1 << 30},
		{"pending filesystem claim", asked(&applicationv1.Application_PersistentVolumeClaim{Status: "Pending", VolumeMode: "Filesystem", RequestBytes: 1138166334}), "Filesystem", "1.06Gi", 1138166334},
		{"bound filesystem claim", asked(&applicationv1.Application_PersistentVolumeClaim{Status: "Bound", VolumeMode: "Filesystem", RequestBytes: 1138166334, Capacity: "1086Mi"}), "Filesystem", "1086Mi", 1086 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := VolumeMode(tt.dv); got != tt.mode {
				t.Errorf("VolumeMode = %q, want %q", got, tt.mode)
			}
			if got := ClaimBytes(tt.dv); got != tt.claim {
				t.Errorf("ClaimBytes = %d, want %d", got, tt.claim)
			}
			if got := Size(DiskBytes(tt.dv)); got != tt.size {
				t.Errorf("Size(DiskBytes) = %q, want %q", got, tt.size)
			}
		})
	}
}
