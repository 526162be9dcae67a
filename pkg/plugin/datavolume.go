package plugin

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdDataVolume returns `kubectl otterscale datavolume`.
func NewCmdDataVolume(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "datavolume",
		Aliases: []string{"dv", "datavolumes", "dvs"},
		Short:   "Create, list, extend, delete and watch CDI DataVolumes",
		Long: `Create, list, extend and delete KubeVirt CDI DataVolumes: blank disks, imports from
an HTTP(S) URL, and clones of existing claims.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		NewCmdCreate(f, streams),
		NewCmdGet(f, streams, "get"),
		NewCmdGet(f, streams, "list"),
		NewCmdDelete(f, streams),
		NewCmdExtend(f, streams),
		NewCmdWatch(f, streams),
		NewCmdWait(f, streams),
	)
	return cmd
}

// options is what every verb's XxxOptions implements: Complete turns flags
// into state, Validate checks invariants, Run does the I/O.
type options interface {
	Complete(ctx context.Context, args []string) error
	Validate() error
	Run(ctx context.Context) error
}

// runE runs the three steps in order.
func runE(o options) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(cmd.Context(), args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}
