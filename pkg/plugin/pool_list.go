package plugin

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

var poolListExample = examples(`
	# Every pool
	kubectl otterscale pool list

	# The pools that can hold RBD images, as the web UI's block-device page lists them
	kubectl otterscale pool list --application block

	# With quotas and placement-group states; or the API's JSON
	kubectl otterscale pool list -o wide
	kubectl otterscale pool list -o json`)

// poolApplications are --application's values, as the API names them
// without the prefix.
var poolApplications = map[string]storagev1.Pool_Application{
	"block":  storagev1.Pool_APPLICATION_BLOCK,
	"file":   storagev1.Pool_APPLICATION_FILE,
	"object": storagev1.Pool_APPLICATION_OBJECT,
}

// PoolListOptions are the options of `pool list`.
type PoolListOptions struct {
	genericiooptions.IOStreams
	PrintFlags  PrintFlags
	Application string

	f    *Factory
	ceph *CephFlags
	app  storagev1.Pool_Application
}

// NewCmdPoolList returns `kubectl otterscale pool list`.
func NewCmdPoolList(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &PoolListOptions{IOStreams: streams, f: f, ceph: ceph}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List Ceph pools",
		Long: `List Ceph pools: type (replicated with its size, or erasure-coded with k+m), the
applications they are enabled for, placement groups, quotas, and usage as ceph df reports it.
Usage and placement-group states come from the ceph-mgr; without an active one they show as 0
and <none>.`,
		Example: poolListExample,
		Args:    noArgs,
		RunE:    runCeph(f, o),
	}
	cmd.Flags().StringVar(&o.Application, "application", "", "Only pools enabled for this application: block (rbd), file (cephfs) or object (rgw)")
	completeFlag(cmd, "application", fixed("block", "file", "object"))
	o.PrintFlags.AddFlags(cmd, true)
	return withCephNote(cmd)
}

// Complete reads --application.
func (o *PoolListOptions) Complete(_ context.Context, _ []string) error {
	if o.Application == "" {
		return nil
	}
	app, ok := poolApplications[strings.ToLower(o.Application)]
	if !ok {
		return usageErrorf("--application: unknown application %q: use block, file or object", o.Application)
	}
	o.app = app
	return nil
}

// Validate checks the flags.
func (o *PoolListOptions) Validate() error {
	if err := o.ceph.Validate(); err != nil {
		return err
	}
	return o.PrintFlags.Validate()
}

// Run lists and prints.
func (o *PoolListOptions) Run(ctx context.Context) error {
	resp, err := o.f.Storage(o.ceph.Storage()).ListPools(ctx, connect.NewRequest(&storagev1.ListPoolsRequest{Application: o.app}))
	if err != nil {
		return err
	}
	pools := resp.Msg.GetPools()
	if len(pools) == 0 && (o.PrintFlags.Output == "" || o.PrintFlags.Output == "wide") {
		what := "Ceph pools"
		if o.Application != "" {
			what = fmt.Sprintf("Ceph pools enabled for %s", strings.ToLower(o.Application))
		}
		_, err := fmt.Fprintf(o.ErrOut, "No %s found.\n", what)
		return err
	}
	return printPools(o.Out, o.PrintFlags, pools)
}
