package plugin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/otterscale/kubectl-otterscale/pkg/storage"
	"github.com/otterscale/kubectl-otterscale/pkg/version"
)

// versionInfo is the build's version and whether it can talk to Ceph
// (cgo builds with the pacific tag can; others cannot: see the README). A
// build without Ceph support also says whether it found a working
// otterscale-ceph to hand the RBD commands to.
type versionInfo struct {
	version.Info
	// Build is "ceph" (cgo, -tags pacific) or "cgo-free".
	Build      string      `json:"build"`
	Ceph       bool        `json:"ceph"`
	CephHelper *CephHelper `json:"cephHelper,omitempty"`
}

// getVersionInfo fills versionInfo, probing otterscale-ceph in a build
// without Ceph support.
func getVersionInfo(ctx context.Context) versionInfo {
	info := versionInfo{Info: version.Get(), Build: "ceph", Ceph: storage.Supported}
	if !info.Ceph {
		info.Build = "cgo-free"
		h := FindCephHelper(ctx)
		info.CephHelper = &h
	}
	return info
}

// cephSummary is the text output's words on Ceph support.
func (v versionInfo) cephSummary() string {
	switch {
	case v.Ceph:
		return "with Ceph support"
	case v.CephHelper != nil && v.CephHelper.Working:
		return "cgo-free build; RBD commands run " + v.CephHelper.Path
	case v.CephHelper != nil:
		return "cgo-free build without Ceph support: " + v.CephHelper.Problem
	}
	return "without Ceph support"
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
