package plugin

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdPool returns `kubectl otterscale pool`.
func NewCmdPool(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	ceph := NewCephFlags()
	cmd := &cobra.Command{
		Use:     "pool",
		Aliases: []string{"pools"},
		Short:   "List Ceph pools with their type, quotas, usage and placement groups",
		Long:    "List Ceph pools directly in Ceph, with their type, quotas, usage and placement groups.\n\n" + findingCeph,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	ceph.AddFlags(cmd.PersistentFlags())
	completeFlag(cmd, "rook-namespace", completeNamespaces(f))
	cmd.AddCommand(NewCmdPoolList(f, ceph, streams))
	return cmd
}
