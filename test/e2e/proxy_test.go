package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// client runs one client command and returns its stdout, failing the test
// on a non-zero exit.
func client(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, code, stderr := clientCode(t, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), code, out, stderr)
	}
	return out
}

func clientCode(t *testing.T, name string, args ...string) (stdout string, code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	// buf keeps a cache; keep it out of the user's home.
	cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+t.TempDir())
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), code, errOut.String()
}

func decode(t *testing.T, what, data string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", what, err, data)
	}
	return m
}

var servingRe = regexp.MustCompile(`Serving the OtterScale API on (http://\S+) `)

// `kubectl otterscale proxy`, run through kubectl, called as users call
// it: curl with JSON written from the documented API, buf curl and grpcurl
// with the schema from reflection; every result checked in the API server
// and in Ceph; Ctrl-C ends it with exit 0.
func TestProxyWithCLIClients(t *testing.T) {
	env, c := testenv.Require(t), cephenv.Require(t)
	dir := pluginOnPath(t)
	curl := testenv.Tool(t, "OTTERSCALE_CURL", "curl")
	buf := testenv.Tool(t, "OTTERSCALE_BUF", "buf")
	grpcurl := testenv.Tool(t, "OTTERSCALE_GRPCURL", "grpcurl")
	ctx := t.Context()
	const ns = "e2e-proxy"
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateImage(ctx, "e2e-img", 8<<20); err != nil {
		t.Fatal(err)
	}
	cdi, err := cdiclient.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}

	p := start(t, env, dir, "otterscale", "proxy", "--port", "0",
		"--ceph-mon-host", c.MonHost, "--ceph-user", "admin", "--ceph-keyring", c.AdminKeyring)
	p.until(t, "Try:")
	base := servingRe.FindStringSubmatch(p.stdout.String())[1]
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	procedure := func(svc, method string) string {
		return base + "/otterscale." + svc + ".v1." + strings.ToUpper(svc[:1]) + svc[1:] + "Service/" + method
	}

	// curl, as the web UI's fetch sends it: both spellings of the enum.
	for name, spelling := range map[string]string{"by-curl": "HTTP_URL", "by-curl-prefixed": "TYPE_HTTP_URL"} {
		out := client(t, curl, "-sS", "--fail-with-body", "-H", "Content-Type: application/json",
			"-d", `{"namespace":"`+ns+`","name":"`+name+`","source":{"type":"`+spelling+`","data":"https://example.com/disk.img"},"sizeBytes":"2147483648","bootImage":true}`,
			procedure("instance", "CreateDataVolume"))
		if m := decode(t, "curl create", out); m["name"] != name || m["sizeBytes"] != "2147483648" || m["source"].(map[string]any)["type"] != "TYPE_HTTP_URL" {
			t.Errorf("curl create answered %s", out)
		}
		dv, err := cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("created through curl: %v", err)
		}
		if dv.Spec.Source == nil || dv.Spec.Source.HTTP == nil || dv.Spec.Source.HTTP.URL != "https://example.com/disk.img" ||
			dv.Spec.Storage.Resources.Requests.Storage().String() != "2Gi" {
			t.Errorf("in the API server: %+v %+v", dv.Spec.Source, dv.Spec.Storage)
		}
	}
	out := client(t, curl, "-sS", "--http2-prior-knowledge", "--fail-with-body", "-H", "Content-Type: application/json",
		"-d", `{"poolName":"`+c.Pool+`","imageName":"e2e-img","snapshotName":"by-curl"}`, procedure("storage", "CreateImageSnapshot"))
	if m := decode(t, "curl snapshot", out); m["name"] != "by-curl" {
		t.Errorf("curl snapshot answered %s", out)
	}
	if snaps, err := c.RBD(ctx, "snap", "ls", c.Pool+"/e2e-img"); err != nil || !strings.Contains(string(snaps), "by-curl") {
		t.Errorf("rbd snap ls after curl: %v\n%s", err, snaps)
	}
	// Refusals: a bad Host is 403; bad input is Connect's JSON error.
	out, code, _ := clientCode(t, curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: rebind.example.test",
		"-H", "Content-Type: application/json", "-d", `{}`, procedure("instance", "ListDataVolumes"))
	if code != 0 || out != "403" {
		t.Errorf("bad Host: %q (exit %d), want 403", out, code)
	}
	out, _, _ = clientCode(t, curl, "-sS", "-H", "Content-Type: application/json",
		"-d", `{"namespace":"`+ns+`","name":"Bad_Name","sizeBytes":"1"}`, procedure("instance", "CreateDataVolume"))
	if m := decode(t, "bad input", out); m["code"] != "invalid_argument" || !strings.Contains(m["message"].(string), "name") {
		t.Errorf("bad input answered %s", out)
	}

	// The example the proxy prints, pasted as it is: it lists the
	// default namespace.
	client(t, curl, "-sS", "--fail-with-body", "-H", "Content-Type: application/json",
		"-d", `{"namespace":"default","name":"in-default","sizeBytes":"1073741824"}`, procedure("instance", "CreateDataVolume"))
	example := regexp.MustCompile(`(?s)Try:\n\s+(buf curl .*?)\\\n\s+(\S+)`).FindStringSubmatch(p.stdout.String())
	if example == nil {
		t.Fatalf("no buf curl example in:\n%s", p.stdout)
	}
	args := append(splitShell(t, strings.TrimPrefix(strings.TrimSpace(example[1]), "buf curl ")), example[2])
	if out := client(t, buf, append([]string{"curl"}, args...)...); !strings.Contains(out, `"name": "in-default"`) {
		t.Errorf("the printed example answered %s", out)
	}
	// buf curl, with the schema from reflection, over Connect and gRPC.
	for _, protocol := range []string{"connect", "grpc"} {
		out := client(t, buf, "curl", "--http2-prior-knowledge", "--protocol", protocol, "-d", `{"namespace":"`+ns+`","filter":"BOOTABLE"}`, procedure("instance", "ListDataVolumes"))
		if strings.Count(out, `"bootImage": true`) != 2 {
			t.Errorf("buf curl %s list answered %s", protocol, out)
		}
	}
	out = client(t, buf, "curl", "--http2-prior-knowledge", "--list-methods", base)
	for _, m := range []string{"otterscale.instance.v1.InstanceService/WatchDataVolumes", "otterscale.storage.v1.StorageService/ListImageSnapshots",
		"otterscale.storage.v1.StorageService/ListPools", "otterscale.storage.v1.StorageService/CreateImage",
		"otterscale.storage.v1.StorageService/UpdateImage", "otterscale.storage.v1.StorageService/DeleteImage"} {
		if !strings.Contains(out, m) {
			t.Errorf("buf curl --list-methods lacks %s:\n%s", m, out)
		}
	}

	// grpcurl, with the schema from reflection.
	out = client(t, grpcurl, "-plaintext", u.Host, "list")
	for _, s := range []string{"otterscale.instance.v1.InstanceService", "otterscale.storage.v1.StorageService", "grpc.health.v1.Health"} {
		if !strings.Contains(out, s) {
			t.Errorf("grpcurl list lacks %s:\n%s", s, out)
		}
	}
	if out := client(t, grpcurl, "-plaintext", u.Host, "describe", "otterscale.storage.v1.StorageService"); !strings.Contains(out, "rpc CreateImageSnapshot") {
		t.Errorf("grpcurl describe:\n%s", out)
	}
	out = client(t, grpcurl, "-plaintext", "-d", `{"namespace":"`+ns+`","name":"by-curl"}`, u.Host, "otterscale.instance.v1.InstanceService/GetDataVolume")
	if m := decode(t, "grpcurl get", out); m["name"] != "by-curl" || m["bootImage"] != true {
		t.Errorf("grpcurl get answered %s", out)
	}
	client(t, grpcurl, "-plaintext", "-d", `{"poolName":"`+c.Pool+`","imageName":"e2e-img","snapshotName":"by-grpcurl"}`, u.Host, "otterscale.storage.v1.StorageService/CreateImageSnapshot")
	out = client(t, grpcurl, "-plaintext", "-d", `{"poolName":"`+c.Pool+`","imageName":"e2e-img"}`, u.Host, "otterscale.storage.v1.StorageService/ListImageSnapshots")
	if !strings.Contains(out, `"by-curl"`) || !strings.Contains(out, `"by-grpcurl"`) {
		t.Errorf("grpcurl list snapshots answered %s", out)
	}
	if snaps, err := c.RBD(ctx, "snap", "ls", c.Pool+"/e2e-img"); err != nil || !strings.Contains(string(snaps), "by-grpcurl") {
		t.Errorf("rbd snap ls after grpcurl: %v\n%s", err, snaps)
	}
	// The block-device page's calls: pools for the picker, then an image
	// created, grown and deleted.
	out = client(t, grpcurl, "-plaintext", "-d", `{"application":"APPLICATION_BLOCK"}`, u.Host, "otterscale.storage.v1.StorageService/ListPools")
	if !strings.Contains(out, `"name": "`+c.Pool+`"`) || !strings.Contains(out, `"APPLICATION_BLOCK"`) || !strings.Contains(out, `"TYPE_REPLICATED"`) {
		t.Errorf("grpcurl list pools answered %s", out)
	}
	out = client(t, curl, "-sS", "--fail-with-body", "-H", "Content-Type: application/json",
		"-d", `{"poolName":"`+c.Pool+`","imageName":"by-curl-img","quotaBytes":"8388608","layering":true}`, procedure("storage", "CreateImage"))
	if m := decode(t, "curl create image", out); m["name"] != "by-curl-img" || m["quotaBytes"] != "8388608" || m["layering"] != true || m["exclusiveLock"] != false {
		t.Errorf("curl create image answered %s", out)
	}
	client(t, grpcurl, "-plaintext", "-d", `{"poolName":"`+c.Pool+`","imageName":"by-curl-img","quotaBytes":"16777216"}`, u.Host, "otterscale.storage.v1.StorageService/UpdateImage")
	if info, err := c.RBD(ctx, "info", c.Pool+"/by-curl-img"); err != nil || !strings.Contains(string(info), "size 16 MiB") {
		t.Errorf("rbd info after grpcurl resize: %v\n%s", err, info)
	}
	client(t, buf, "curl", "--http2-prior-knowledge", "--protocol", "grpc", "-d", `{"poolName":"`+c.Pool+`","imageName":"by-curl-img"}`, procedure("storage", "DeleteImage"))
	if ls, err := c.RBD(ctx, "ls", c.Pool); err != nil || strings.Contains(string(ls), "by-curl-img") {
		t.Errorf("rbd ls after buf curl delete: %v\n%s", err, ls)
	}
	if out := client(t, grpcurl, "-plaintext", u.Host, "grpc.health.v1.Health/Check"); !strings.Contains(out, "SERVING") {
		t.Errorf("health: %s", out)
	}
	_, code, stderr := clientCode(t, grpcurl, "-plaintext", "-d", `{"namespace":"`+ns+`","name":"absent"}`, u.Host, "otterscale.instance.v1.InstanceService/GetDataVolume")
	if code == 0 || !strings.Contains(stderr, "NotFound") {
		t.Errorf("grpcurl get absent: exit %d: %s", code, stderr)
	}

	// Ctrl-C: the plugin replaced kubectl's process, so the signal is its.
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("exit %d after Ctrl-C\nstderr: %s", code, p.stderr)
	}
	logs := p.stderr.String()
	if strings.Count(logs, "msg=call ") < 10 || strings.Contains(logs, c.AdminKey) {
		t.Errorf("want a line per call and no key:\n%s", logs)
	}
}

// splitShell splits the printed example's arguments as a shell would:
// words, with single-quoted strings kept whole.
func splitShell(t *testing.T, s string) []string {
	t.Helper()
	var args []string
	for _, m := range regexp.MustCompile(`'([^']*)'|(\S+)`).FindAllStringSubmatch(s, -1) {
		if m[2] != "" {
			args = append(args, m[2])
		} else {
			args = append(args, m[1])
		}
	}
	return args
}
