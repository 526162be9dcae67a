// Package human says how DataVolumes read to a person: phases, sizes and
// ages in one vocabulary, built on apimachinery's, and which of the
// DataVolume's and its claim's values a view shows. The CLI's tables, its
// plain lines and the TUI all print through it, so they never disagree.
package human

import (
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/duration"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/follow"
)

// Phase is how CDI's phase reads: follow.Phase, Pending while CDI has set
// none (the start of a populator import).
func Phase(s string) string { return follow.Phase(s) }

// binaryUnits are resource.Quantity's binary-SI suffixes, smallest first.
var binaryUnits = []string{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}

// Size is a size in bytes as a binary-SI quantity, as kubectl prints one
// (10Gi, 1086Mi, 512Ki), and "" for zero or less (unknown). A size that no
// suffix divides exactly, such as the 1138166334 bytes CDI asks for a 1Gi
// Filesystem disk, would print as a bare byte count; it prints instead with
// three significant digits in the largest unit that fits (1.06Gi), which
// still parses as a quantity within 0.5% of the size. The exact bytes are in
// -o yaml and -o json.
func Size(n int64) string {
	if n <= 0 {
		return ""
	}
	exact := resource.NewQuantity(n, resource.BinarySI).String()
	if n < 1024 || exact[len(exact)-1] < '0' || exact[len(exact)-1] > '9' {
		return exact // bytes, or a whole number of some unit
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(binaryUnits)-1 {
		v /= 1024
		i++
	}
	s := threeDigits(v)
	if s == "1024" && i < len(binaryUnits)-1 { // 1023.6Mi rounds to 1Gi
		s, i = "1", i+1
	}
	return s + binaryUnits[i]
}

// threeDigits writes v (1 <= v < 1024) with three significant digits and
// no trailing zeros: 1.06, 10.6, 106, 1020.
func threeDigits(v float64) string {
	prec := 2
	switch {
	case v >= 99.95:
		prec = 0
	case v >= 9.995:
		prec = 1
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if prec > 0 {
		for s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
		if s[len(s)-1] == '.' {
			s = s[:len(s)-1]
		}
	}
	return s
}

// Age is how long before now t was, as kubectl's AGE column says it (5m30s,
// 3h, 26h, 12d); "" for a zero time. A t slightly in the future (the API
// server's clock ahead of ours) reads as 0s.
func Age(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return duration.HumanDuration(max(now.Sub(t), 0))
}

// VolumeMode is the volume mode the DataVolume really has: its claim's,
// which CDI's StorageProfile picks when the DataVolume asked none, else the
// one it asked for; "" when neither is known.
func VolumeMode(dv *instancev1.DataVolume) string {
	if m := dv.GetPersistentVolumeClaim().GetVolumeMode(); m != "" {
		return m
	}
	return dv.GetVolumeMode()
}

// ClaimBytes is the size of the DataVolume's claim: the bound volume's
// capacity once bound, else the claim's own request, which CDI may have
// made larger than the DataVolume's (filesystem overhead); 0 without a
// claim.
func ClaimBytes(dv *instancev1.DataVolume) int64 {
	pvc := dv.GetPersistentVolumeClaim()
	if c := pvc.GetCapacity(); c != "" {
		if q, err := resource.ParseQuantity(c); err == nil {
			return q.Value()
		}
	}
	return pvc.GetRequestBytes()
}

// DiskBytes is the size a person asks about: the claim's (ClaimBytes) when
// there is a claim, else what the DataVolume asked for.
func DiskBytes(dv *instancev1.DataVolume) int64 {
	if n := ClaimBytes(dv); n > 0 {
		return n
	}
	return dv.GetSizeBytes()
}
