// Package e2e runs the built binary the way users do: on PATH, as
// `kubectl otterscale ...` through the real kubectl, against the real test
// API server.
package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

var binDir string

// The proxy's test needs a Ceph as well as the API server.
func TestMain(m *testing.M) { testenv.Main(m, testenv.WithCeph()) }

// pluginOnPath puts kubectl-otterscale on a PATH of its own: the binary
// `make test` built (OTTERSCALE_BINARY), or one built here.
func pluginOnPath(t *testing.T) string {
	t.Helper()
	if binDir != "" {
		return binDir
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		daemon.Absent(t, "kubectl is not on PATH (make kubectl builds one)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kubectl-otterscale")
	if src := os.Getenv("OTTERSCALE_BINARY"); src != "" {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		out, err := exec.Command("go", "build", "-o", bin, "github.com/otterscale/kubectl-otterscale/cmd/kubectl-otterscale").CombinedOutput()
		if err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	return dir
}

type result struct {
	stdout, stderr string
	code           int
}

// kubectl runs the real kubectl with the plugin first on PATH and the test
// server's kubeconfig.
func kubectl(t *testing.T, env *testenv.Env, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+env.Kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errOut.String(), code}
}

func TestThroughKubectl(t *testing.T) {
	env := testenv.Require(t)
	dir := pluginOnPath(t)
	ns := "e2e"
	if _, err := env.Kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cdi, err := cdiclient.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"plugin", "list"}, 0, filepath.Join(dir, "kubectl-otterscale"), ""},
		{[]string{"otterscale", "version"}, 0, "kubectl-otterscale ", ""},
		{[]string{"otterscale", "--help"}, 0, "kubectl otterscale [command]", ""},
		{[]string{"otterscale", "dv", "create", "disk", "-n", ns, "--size", "5Gi", "--url", "https://example.com/disk.qcow2", "--boot-image"}, 0, "datavolume.cdi.kubevirt.io/disk created", ""},
		{[]string{"otterscale", "datavolume", "create", "scratch", "--namespace", ns, "--size", "1Gi"}, 0, "datavolume.cdi.kubevirt.io/scratch created", ""},
		{[]string{"otterscale", "dv", "list", "-n", ns}, 0, "disk      Pending   <none>     5Gi    <none>   http     true", ""},
		{[]string{"otterscale", "dv", "get", "-A", "-o", "name"}, 0, "datavolume.cdi.kubevirt.io/scratch\n", ""},
		{[]string{"otterscale", "dv", "create", "disk", "-n", ns, "--size", "5Gi"}, 4, "", "already exists"},
		{[]string{"otterscale", "dv", "create", "UPPER", "-n", ns, "--size", "5Gi"}, 2, "", "is not a valid name"},
		{[]string{"otterscale", "dv", "create", "x", "-n", ns, "--size", "-1Gi"}, 2, "", "--size: must be positive"},
		{[]string{"otterscale", "dv", "create", "tiny", "-n", ns, "--size", "512Ki"}, 2, "", `size_bytes: must be at least 1Mi (1048576 bytes), got 524288: CDI refuses smaller disks ("Storage size should be at least 1MiB")`},
		{[]string{"otterscale", "dv", "get", "nope", "-n", ns}, 3, "", `data volume "nope" not found in namespace "e2e"`},
		{[]string{"otterscale", "dv", "list", "--context", "nobody"}, 6, "", "forbidden"},
		{[]string{"otterscale", "dv", "extend", "disk", "-n", ns, "--size", "9Gi"}, 5, "", "does not exist yet"},
		{[]string{"otterscale", "dv", "delete", "scratch", "-n", ns}, 0, `datavolume.cdi.kubevirt.io "scratch" deleted`, ""},
	}
	for _, s := range steps {
		r := kubectl(t, env, dir, s.args...)
		if r.code != s.code || !strings.Contains(r.stdout, s.stdout) || !strings.Contains(r.stderr, s.stderr) {
			t.Errorf("kubectl %s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout containing %q and stderr containing %q",
				strings.Join(s.args, " "), r.code, s.code, r.stdout, r.stderr, s.stdout, s.stderr)
		}
	}

	// -o json is the API's JSON, as the proxy would answer.
	r := kubectl(t, env, dir, "otterscale", "dv", "get", "disk", "-n", ns, "-o", "json")
	var dv map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &dv); err != nil {
		t.Fatalf("get -o json: %v\n%s", err, r.stdout)
	}
	if dv["sizeBytes"] != "5368709120" || dv["bootImage"] != true || dv["source"].(map[string]any)["type"] != "TYPE_HTTP_URL" {
		t.Errorf("get -o json = %v", dv)
	}

	// And the API server holds exactly what the commands left.
	list, err := cdi.CdiV1beta1().DataVolumes(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "disk" {
		t.Errorf("data volumes in %s: %v", ns, list.Items)
	}
}
