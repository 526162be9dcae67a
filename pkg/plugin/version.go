package plugin

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/otterscale/kubectl-otterscale/pkg/version"
)

// NewCmdVersion returns `kubectl otterscale version`. It never reads a
// kubeconfig: it must work on a machine with no cluster at all.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version",
		Args:  noArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			info := version.Get()
			switch output {
			case "":
				_, err := fmt.Fprintf(streams.Out, "kubectl-otterscale %s (commit %s, built %s, %s, %s)\n",
					info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
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
	return cmd
}
