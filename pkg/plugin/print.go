package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/human"
)

// Output formats, with kubectl's meaning; json and yaml are the API's JSON.
var outputFormats = []string{"wide", "json", "yaml", "name"}

// PrintFlags are -o and --no-headers.
type PrintFlags struct {
	Output    string
	NoHeaders bool
}

// AddFlags adds -o (and --no-headers where tables are printed).
func (p *PrintFlags) AddFlags(cmd *cobra.Command, table bool) {
	cmd.Flags().StringVarP(&p.Output, "output", "o", p.Output,
		"Output format: one of ("+strings.Join(outputFormats, ", ")+"); json and yaml are the API's JSON")
	completeFlag(cmd, "output", fixed(outputFormats...))
	if table {
		cmd.Flags().BoolVar(&p.NoHeaders, "no-headers", false, "Don't print headers in tables")
	}
}

// Validate refuses an unknown -o.
func (p *PrintFlags) Validate() error {
	if p.Output == "" {
		return nil
	}
	for _, f := range outputFormats {
		if p.Output == f {
			return nil
		}
	}
	return usageErrorf("--output: unknown format %q: use one of %s", p.Output, strings.Join(outputFormats, ", "))
}

// protoJSON is the API's JSON as upstream writes it: every field present,
// zero or not, indented deterministically (protojson alone varies its
// whitespace on purpose).
func protoJSON(m proto.Message) ([]byte, error) {
	raw, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// printMessage prints m as JSON or YAML.
func printMessage(w io.Writer, format string, m proto.Message) error {
	data, err := protoJSON(m)
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	if format == "yaml" {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
	}
	_, err = w.Write(data)
	return err
}

const dataVolumeResource = "datavolume.cdi.kubevirt.io"

// now is the clock ages are computed against; golden tests fix it.
var now = time.Now

// printDataVolumes prints DataVolumes in the format asked for. single makes
// json and yaml print the one DataVolume rather than a list.
func printDataVolumes(w io.Writer, p PrintFlags, dvs []*instancev1.DataVolume, withNamespace, single bool) error {
	switch p.Output {
	case "json", "yaml":
		if single && len(dvs) == 1 {
			return printMessage(w, p.Output, dvs[0])
		}
		return printMessage(w, p.Output, &instancev1.ListDataVolumesResponse{DataVolumes: dvs})
	case "name":
		for _, dv := range dvs {
			if _, err := fmt.Fprintf(w, "%s/%s\n", dataVolumeResource, dv.GetName()); err != nil {
				return err
			}
		}
		return nil
	}
	table := dataVolumeTable(dvs, withNamespace, now())
	printer := printers.NewTablePrinter(printers.PrintOptions{Wide: p.Output == "wide", NoHeaders: p.NoHeaders})
	return printer.PrintObj(table, w)
}

// dataVolumeTable lays DataVolumes out as kubectl would: wide columns have
// priority 1 and come last. SIZE and MODE are the claim's once CDI made it
// (its StorageProfile picks the mode, and a Filesystem claim asks more
// than the DataVolume did); REQUESTED is what the DataVolume asked.
func dataVolumeTable(dvs []*instancev1.DataVolume, withNamespace bool, now time.Time) *metav1.Table {
	var cols []metav1.TableColumnDefinition
	if withNamespace {
		cols = append(cols, metav1.TableColumnDefinition{Name: "Namespace", Type: "string"})
	}
	cols = append(cols,
		metav1.TableColumnDefinition{Name: "Name", Type: "string"},
		metav1.TableColumnDefinition{Name: "Phase", Type: "string"},
		metav1.TableColumnDefinition{Name: "Progress", Type: "string"},
		metav1.TableColumnDefinition{Name: "Size", Type: "string"},
		metav1.TableColumnDefinition{Name: "Mode", Type: "string"},
		metav1.TableColumnDefinition{Name: "Source", Type: "string"},
		metav1.TableColumnDefinition{Name: "Boot", Type: "string"},
		metav1.TableColumnDefinition{Name: "Age", Type: "string"},
		metav1.TableColumnDefinition{Name: "Claim", Type: "string", Priority: 1},
		metav1.TableColumnDefinition{Name: "Requested", Type: "string", Priority: 1},
		metav1.TableColumnDefinition{Name: "StorageClass", Type: "string", Priority: 1},
		metav1.TableColumnDefinition{Name: "Access Modes", Type: "string", Priority: 1},
		metav1.TableColumnDefinition{Name: "Reason", Type: "string", Priority: 1},
		metav1.TableColumnDefinition{Name: "Data", Type: "string", Priority: 1},
	)
	t := &metav1.Table{ColumnDefinitions: cols}
	for _, dv := range dvs {
		var cells []any
		if withNamespace {
			cells = append(cells, dv.GetNamespace())
		}
		claim := dv.GetPersistentVolumeClaim()
		cells = append(cells,
			dv.GetName(),
			human.Phase(dv.GetPhase()),
			orNone(dv.GetProgress()),
			orNone(human.Size(human.DiskBytes(dv))),
			orNone(human.VolumeMode(dv)),
			sourceKind(dv.GetSource().GetType()),
			fmt.Sprint(dv.GetBootImage()),
			age(dv.GetCreatedAt(), now),
			orNone(claim.GetStatus()),
			orNone(human.Size(dv.GetSizeBytes())),
			orNone(storageClass(dv)),
			orNone(strings.Join(claim.GetAccessModes(), ",")),
			orNone(dv.GetLastCondition().GetReason()),
			orNone(dv.GetSource().GetData()),
		)
		t.Rows = append(t.Rows, metav1.TableRow{Cells: cells})
	}
	return t
}

func sourceKind(t instancev1.DataVolume_Source_Type) string {
	switch t {
	case instancev1.DataVolume_Source_HTTP_URL:
		return "http"
	case instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM:
		return "clone"
	}
	return "blank"
}

func storageClass(dv *instancev1.DataVolume) string {
	if n := dv.GetPersistentVolumeClaim().GetStorageClass().GetName(); n != "" {
		return n
	}
	return dv.GetStorageClass()
}

// age is kubectl's AGE of a creation time, <unknown> without one.
func age(created *timestamppb.Timestamp, now time.Time) string {
	if created == nil {
		return "<unknown>"
	}
	return human.Age(now, created.AsTime())
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
