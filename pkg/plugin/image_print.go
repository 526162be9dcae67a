package plugin

import (
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

// printImages prints RBD images in the format asked for.
func printImages(w io.Writer, p PrintFlags, images []*storagev1.Image) error {
	switch p.Output {
	case "json", "yaml":
		return printMessage(w, p.Output, &storagev1.ListImagesResponse{Images: images})
	case "name":
		for _, img := range images {
			if _, err := fmt.Fprintln(w, imageSpec(img.GetPoolName(), img.GetName())); err != nil {
				return err
			}
		}
		return nil
	}
	printer := printers.NewTablePrinter(printers.PrintOptions{Wide: p.Output == "wide", NoHeaders: p.NoHeaders})
	return printer.PrintObj(imageTable(images, now()), w)
}

// imageTable lays images out with human sizes; wide adds their layout.
func imageTable(images []*storagev1.Image, now time.Time) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Pool", Type: "string"},
		{Name: "Name", Type: "string"},
		{Name: "Size", Type: "string"},
		{Name: "Used", Type: "string"},
		{Name: "Snapshots", Type: "integer"},
		{Name: "Features", Type: "string"},
		{Name: "Age", Type: "string"},
		{Name: "Object Size", Type: "string", Priority: 1},
		{Name: "Objects", Type: "integer", Priority: 1},
		{Name: "Stripe Unit", Type: "string", Priority: 1},
		{Name: "Stripe Count", Type: "integer", Priority: 1},
	}}
	for _, img := range images {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			img.GetPoolName(),
			img.GetName(),
			iecBytes(img.GetQuotaBytes()),
			iecBytes(img.GetUsedBytes()),
			len(img.GetSnapshots()),
			orNone(imageFeatures(img)),
			age(img.GetCreatedAt(), now),
			iecBytes(img.GetObjectSizeBytes()),
			img.GetObjectCount(),
			iecBytes(img.GetStripeUnitBytes()),
			img.GetStripeCount(),
		}})
	}
	return t
}

// imageFeatures names the features that are on, as rbd info does.
func imageFeatures(img *storagev1.Image) string {
	var on []string
	for _, f := range []struct {
		name string
		on   bool
	}{
		{"layering", img.GetLayering()},
		{"exclusive-lock", img.GetExclusiveLock()},
		{"object-map", img.GetObjectMap()},
		{"fast-diff", img.GetFastDiff()},
		{"deep-flatten", img.GetDeepFlatten()},
	} {
		if f.on {
			on = append(on, f.name)
		}
	}
	return strings.Join(on, ",")
}
