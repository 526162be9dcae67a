package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// kubectl's own plugin completion (1.26+) completes `kubectl otterscale
// dv get <TAB>` with the DataVolumes in the cluster, through the
// kubectl_complete-otterscale script that the archives and make install ship.
func TestCompletionThroughKubectl(t *testing.T) {
	env := testenv.Require(t)
	dir := pluginOnPath(t)
	ns := "e2e-complete"
	if _, err := env.Kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web-disk", "db-disk"} {
		if r := kubectl(t, env, dir, "otterscale", "dv", "create", name, "-n", ns, "--size", "1Gi"); r.code != 0 {
			t.Fatalf("create %s: exit %d: %s", name, r.code, r.stderr)
		}
	}
	completeArgs := []string{"__complete", "otterscale", "dv", "get", "-n", ns, ""}
	dataVolumes := func() ([]string, string) {
		t.Helper()
		r := kubectl(t, env, dir, completeArgs...)
		if r.code != 0 {
			t.Fatalf("kubectl %s: exit %d\n%s", strings.Join(completeArgs, " "), r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		return lines[:len(lines)-1], lines[len(lines)-1]
	}

	// Without the script kubectl has no way to ask the plugin.
	if got, _ := dataVolumes(); len(got) != 0 {
		t.Fatalf("without kubectl_complete-otterscale: %q", got)
	}

	script, err := os.ReadFile(filepath.Join("..", "..", "krew", "kubectl_complete-otterscale"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubectl_complete-otterscale"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	got, directive := dataVolumes()
	slices.Sort(got)
	if !slices.Equal(got, []string{"db-disk", "web-disk"}) || directive != ":4" {
		t.Errorf("kubectl %s = %q, %s; want db-disk and web-disk, :4 (no file completion)", strings.Join(completeArgs, " "), got, directive)
	}
}
