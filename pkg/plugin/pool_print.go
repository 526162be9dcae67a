package plugin

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

// printPools prints pools in the format asked for.
func printPools(w io.Writer, p PrintFlags, pools []*storagev1.Pool) error {
	switch p.Output {
	case "json", "yaml":
		return printMessage(w, p.Output, &storagev1.ListPoolsResponse{Pools: pools})
	case "name":
		for _, pool := range pools {
			if _, err := fmt.Fprintln(w, pool.GetName()); err != nil {
				return err
			}
		}
		return nil
	}
	printer := printers.NewTablePrinter(printers.PrintOptions{Wide: p.Output == "wide", NoHeaders: p.NoHeaders})
	return printer.PrintObj(poolTable(pools, now()), w)
}

// poolTable lays pools out as ceph osd pool ls and ceph df would; wide adds
// quotas and placement-group states.
func poolTable(pools []*storagev1.Pool, now time.Time) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "ID", Type: "integer"},
		{Name: "Name", Type: "string"},
		{Name: "Type", Type: "string"},
		{Name: "Applications", Type: "string"},
		{Name: "PGs", Type: "integer"},
		{Name: "Stored", Type: "string"},
		{Name: "Objects", Type: "integer"},
		{Name: "Max Avail", Type: "string"},
		{Name: "Age", Type: "string"},
		{Name: "Quota Bytes", Type: "string", Priority: 1},
		{Name: "Quota Objects", Type: "string", Priority: 1},
		{Name: "PG States", Type: "string", Priority: 1},
	}}
	for _, p := range pools {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			p.GetId(),
			p.GetName(),
			poolType(p),
			orNone(poolApps(p)),
			p.GetPlacementGroupCount(),
			iecBytes(p.GetUsedBytes()),
			p.GetUsedObjects(),
			iecBytes(p.GetMaxBytes()),
			poolAge(p, now),
			quota(p.GetQuotaBytes(), iecBytes),
			quota(p.GetQuotaObjects(), func(n uint64) string { return fmt.Sprint(n) }),
			orNone(pgStates(p)),
		}})
	}
	return t
}

// poolType is "replicated, size 3" or "erasure 4+2", as an admin says it.
func poolType(p *storagev1.Pool) string {
	switch p.GetType() {
	case storagev1.Pool_TYPE_REPLICATED:
		return fmt.Sprintf("replicated x%d", p.GetReplicatedSize())
	case storagev1.Pool_TYPE_ERASURE:
		s := fmt.Sprintf("erasure %d+%d", p.GetDataChunks(), p.GetCodingChunks())
		if p.GetEcOverwrites() {
			s += " (overwrites)"
		}
		return s
	}
	return "<unknown>"
}

func poolApps(p *storagev1.Pool) string {
	var names []string
	for _, a := range p.GetApplications() {
		switch a {
		case storagev1.Pool_APPLICATION_BLOCK:
			names = append(names, "block")
		case storagev1.Pool_APPLICATION_FILE:
			names = append(names, "file")
		case storagev1.Pool_APPLICATION_OBJECT:
			names = append(names, "object")
		}
	}
	return strings.Join(names, ",")
}

func quota(n uint64, format func(uint64) string) string {
	if n == 0 {
		return "<none>"
	}
	return format(n)
}

// pgStates is "active+clean:32,peering:1", most common first.
func pgStates(p *storagev1.Pool) string {
	type count struct {
		state string
		n     int64
	}
	var counts []count
	for s, n := range p.GetPlacementGroupState() {
		counts = append(counts, count{s, n})
	}
	sort.Slice(counts, func(i, j int) bool {
		if counts[i].n != counts[j].n {
			return counts[i].n > counts[j].n
		}
		return counts[i].state < counts[j].state
	})
	parts := make([]string, len(counts))
	for i, c := range counts {
		parts[i] = fmt.Sprintf("%s:%d", c.state, c.n)
	}
	return strings.Join(parts, ",")
}

func poolAge(p *storagev1.Pool, now time.Time) string {
	if p.GetCreatedAt() == nil {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(p.GetCreatedAt().AsTime()))
}
