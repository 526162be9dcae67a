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
		Short:   "List, create, resize and delete RBD images in Ceph",
		Long:    "List RBD images directly in Ceph, with their size, used space and snapshots; create, resize and delete them.\n\n" + findingCeph,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	ceph.AddFlags(cmd.PersistentFlags())
	completeFlag(cmd, "rook-namespace", completeNamespaces(f))
	cmd.AddCommand(
		NewCmdImageList(f, ceph, streams),
		NewCmdImageCreate(f, ceph, streams),
		NewCmdImageResize(f, ceph, streams),
		NewCmdImageDelete(f, ceph, streams),
	)
	return cmd
}
