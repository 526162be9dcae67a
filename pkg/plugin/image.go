package plugin

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdImage returns `kubectl otterscale image`.
func NewCmdImage(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	ceph := NewCephFlags()
	cmd := &cobra.Command{
		Use:     "image",
		Aliases: []string{"images", "img"},
		Short:   "List RBD images in Ceph with their size, used space and snapshots",
		Long:    "List RBD images directly in Ceph, with their size, used space and snapshots.\n\n" + findingCeph,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	ceph.AddFlags(cmd.PersistentFlags())
	completeFlag(cmd, "rook-namespace", completeNamespaces(f))
	cmd.AddCommand(NewCmdImageList(f, ceph, streams))
	return cmd
}
