package cluster_test

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: u
  user: {token: not-a-real-token}
contexts:
- name: one
  context: {cluster: c, user: u, namespace: vms}
- name: two
  context: {cluster: c, user: u}
current-context: one
`

func provider(t *testing.T) *cluster.Kubeconfig {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &path
	return cluster.NewKubeconfig(flags)
}

// Commands keep a client-side rate limit; the proxy, which serves many
// callers at once, has none on any of the clients of any scope.
func TestUnthrottle(t *testing.T) {
	for _, unthrottled := range []bool{false, true} {
		k := provider(t)
		if unthrottled {
			k.Unthrottle()
		}
		for _, scope := range []string{"", "two"} {
			c, err := k.Clients(t.Context(), scope)
			if err != nil {
				t.Fatal(err)
			}
			limited := map[string]bool{
				"core":    c.Core.RESTClient().GetRateLimiter() != nil,
				"storage": c.Storage.RESTClient().GetRateLimiter() != nil,
				"cdi":     c.CDI.CdiV1beta1().RESTClient().GetRateLimiter() != nil,
			}
			for name, l := range limited {
				if l == unthrottled {
					t.Errorf("unthrottled=%v, scope %q: the %s client's rate limiter is set: %v", unthrottled, scope, name, l)
				}
			}
			if !unthrottled && (c.Config.QPS != 50 || c.Config.Burst != 100) {
				t.Errorf("scope %q: QPS %v burst %d, want 50 and 100", scope, c.Config.QPS, c.Config.Burst)
			}
		}
	}
}
