package plugin

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/otterscale/kubectl-otterscale/pkg/storage"
	"github.com/otterscale/kubectl-otterscale/pkg/version"
)

// versionInfo is the build's version and whether it can talk to Ceph
// (cgo builds with the pacific tag can; others cannot: see the README).
type versionInfo struct {
	version.Info
	Ceph bool `json:"ceph"`
}

// NewCmdVersion returns `kubectl otterscale version`. It never reads a
// kubeconfig: it must work on a machine with no cluster at all.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version",
		Args:  noArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			info := versionInfo{Info: version.Get(), Ceph: storage.Supported}
			switch output {
			case "":
				ceph := "with Ceph support"
				if !info.Ceph {
					ceph = "without Ceph support"
				}
				_, err := fmt.Fprintf(streams.Out, "kubectl-otterscale %s (commit %s, built %s, %s, %s, %s)\n",
					info.Version, info.Commit, info.Date, info.GoVersion, info.Platform, ceph)
				return err
			case "json", "yaml":
				data, err := json.MarshalIndent(info, "", "  ")
				if err != nil {
					return err
				}
				if output == "yaml" {
					if data, err = yaml.JSONToYAML(data); err != nil {
						return err
					}
				} else {
					data = append(data, '\n')
				}
				_, err = streams.Out.Write(data)
				return err
			}
			return usageErrorf("--output: unknown format %q: use json or yaml", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml")
	completeFlag(cmd, "output", fixed("json", "yaml"))
	return cmd
}
