package plugin

import (
	"fmt"
	"io"
	"math"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

// printSnapshots prints an image's snapshots in the format asked for.
// single makes json and yaml print the one snapshot rather than a list.
func printSnapshots(w io.Writer, p PrintFlags, pool, image string, snaps []*storagev1.Image_Snapshot, single bool) error {
	switch p.Output {
	case "json", "yaml":
		if single && len(snaps) == 1 {
			return printMessage(w, p.Output, snaps[0])
		}
		return printMessage(w, p.Output, &storagev1.ListImageSnapshotsResponse{Snapshots: snaps})
	case "name":
		for _, s := range snaps {
			if _, err := fmt.Fprintln(w, snapshotSpec(pool, image, s.GetName())); err != nil {
				return err
			}
		}
		return nil
	}
	printer := printers.NewTablePrinter(printers.PrintOptions{Wide: p.Output == "wide", NoHeaders: p.NoHeaders})
	return printer.PrintObj(snapshotTable(snaps), w)
}

// snapshotTable lays snapshots out as rbd snap ls does, with human sizes;
// wide adds the exact bytes.
func snapshotTable(snaps []*storagev1.Image_Snapshot) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string"},
		{Name: "Protected", Type: "string"},
		{Name: "Size", Type: "string"},
		{Name: "Used", Type: "string"},
		{Name: "Size Bytes", Type: "integer", Priority: 1},
		{Name: "Used Bytes", Type: "integer", Priority: 1},
	}}
	for _, s := range snaps {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			s.GetName(),
			strconv.FormatBool(s.GetProtected()),
			iecBytes(s.GetQuotaBytes()),
			iecBytes(s.GetUsedBytes()),
			s.GetQuotaBytes(),
			s.GetUsedBytes(),
		}})
	}
	return t
}

var iecUnits = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// iecBytes writes a byte count in the largest IEC unit that keeps it at 1
// or more, with at most one decimal, as rbd and ls -h do: 0B, 512B, 1.5GiB,
// 10GiB.
func iecBytes(b uint64) string {
	v, unit := float64(b), 0
	for v >= 1024 && unit < len(iecUnits)-1 {
		v /= 1024
		unit++
	}
	if unit == 0 {
		return strconv.FormatUint(b, 10) + "B"
	}
	r := math.Round(v*10) / 10
	// 1023.96MiB rounds up to the next unit.
	if r >= 1024 && unit < len(iecUnits)-1 {
		r, unit = math.Round(v/1024*10)/10, unit+1
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + iecUnits[unit]
}
