// Package plugin owns the command line: cobra commands, kubectl's flags,
// output formats and the mapping of errors to exit codes. Commands call the
// service implementations in-process, exactly as the proxy serves them.
package plugin

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	// Exec, OIDC and other credential plugins that kubeconfigs name.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

// NewCmdRoot returns `kubectl otterscale`.
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	f := NewFactory()
	cmd := &cobra.Command{
		Use:   "kubectl-otterscale",
		Short: "Manage CDI DataVolumes and Ceph RBD images and snapshots on OtterScale and other KubeVirt clusters",
		Long: `kubectl otterscale manages KubeVirt CDI DataVolumes (blank disks, HTTP imports and
clones) with your own kubeconfig, and RBD images, their snapshots and the pools that hold
them directly in Ceph, found through the cluster. It speaks the same API as the OtterScale
API server.`,
		Annotations: map[string]string{
			// Help and usage then read "kubectl otterscale ...".
			cobra.CommandDisplayNameAnnotation: "kubectl otterscale",
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f.ConfigFlags.AddFlags(cmd.PersistentFlags())
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.AddCommand(
		NewCmdDataVolume(f, streams),
		NewCmdSnapshot(f, streams),
		NewCmdImage(f, streams),
		NewCmdPool(f, streams),
		NewCmdProxy(f, streams),
		NewCmdVersion(streams),
		NewCmdCompletion(streams),
	)
	registerConfigCompletions(cmd, f)
	noFileArgs(cmd)
	return cmd
}
