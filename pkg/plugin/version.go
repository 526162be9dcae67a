package plugin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/otterscale/kubectl-otterscale/pkg/version"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// versionInfo is the build's version and the Ceph worker it found:
// kubectl-otterscale is always cgo-free and runs its Ceph calls in
// otterscale-ceph (see the README).
type versionInfo struct {
	version.Info
	// CephWorker is the otterscale-ceph that RBD commands would run.
	CephWorker worker.Binary `json:"cephWorker"`
}

// getVersionInfo fills versionInfo, running otterscale-ceph once to see
// that it starts.
func getVersionInfo(ctx context.Context) versionInfo {
	return versionInfo{Info: version.Get(), CephWorker: worker.Check(ctx)}
}

// cephSummary is the text output's words on Ceph support.
func (v versionInfo) cephSummary() string {
	if v.CephWorker.Working {
		return "RBD commands run " + v.CephWorker.Path
	}
	return "without Ceph support: " + v.CephWorker.Problem
}

// NewCmdVersion returns `kubectl otterscale version`. It never reads a
// kubeconfig: it must work on a machine with no cluster at all.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "json" && output != "yaml" {
				return usageErrorf("--output: unknown format %q: use json or yaml", output)
			}
			info := getVersionInfo(cmd.Context())
			switch output {
			case "":
				_, err := fmt.Fprintf(streams.Out, "kubectl-otterscale %s (commit %s, built %s, %s, %s, %s)\n",
					info.Version, info.Commit, info.Date, info.GoVersion, info.Platform, info.cephSummary())
				return err
			default:
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
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml")
	completeFlag(cmd, "output", fixed("json", "yaml"))
	return cmd
}
