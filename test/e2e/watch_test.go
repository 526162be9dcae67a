package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// proc is the plugin running in the background through kubectl.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func start(t *testing.T, env *testenv.Env, dir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+env.Kubeconfig)
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return p
}

// wait returns the exit code, failing the test if it takes over a minute
// (a hang, not a slow run).
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(time.Minute):
		t.Fatalf("kubectl %v did not end\nstdout: %s\nstderr: %s", p.cmd.Args[1:], p.stdout, p.stderr)
		return -1
	}
}

// until waits for the process's stdout to contain s.
func (p *proc) until(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.stdout.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("stdout never showed %q:\n%s\nstderr: %s", s, p.stdout, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cdi plays CDI's part (internal/cdisim), waiting first for the DataVolume
// the command creates.
func cdi(t *testing.T, env *testenv.Env) (*cdisim.Sim, func(ns, name string)) {
	t.Helper()
	sim, err := cdisim.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	client, err := cdiclient.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(ns, name string) {
		t.Helper()
		for i := 0; i < 300; i++ {
			if _, err := client.CdiV1beta1().DataVolumes(ns).Get(t.Context(), name, metav1.GetOptions{}); err == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("data volume %s/%s never appeared", ns, name)
	}
	return sim, exists
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// create --wait and wait, run as the real binary through kubectl off a
// terminal, end with the right exit code and message for each outcome.
func TestWaitThroughKubectl(t *testing.T) {
	env := testenv.Require(t)
	dir := pluginOnPath(t)
	ns := "wait-e2e"
	_, err := env.Kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must(t, err)
	sim, exists := cdi(t, env)
	ctx := t.Context()

	for _, tt := range []struct {
		name   string
		extra  []string
		act    func(name string)
		code   int
		stdout []string
		stderr string
	}{
		{"ok", nil, func(n string) {
			must(t, sim.CreateClaim(ctx, ns, n, "", true))
			must(t, sim.SetPhase(ctx, ns, n, cdiv1.ImportScheduled, "N/A"))
			must(t, sim.Progress(ctx, ns, n, 45.67))
			must(t, sim.Succeed(ctx, ns, n))
		}, 0, []string{"ok  ImportScheduled", "ok  ImportInProgress  45.67%  TransferRunning", "ok  Succeeded"}, ""},
		{"bad", nil, func(n string) {
			must(t, sim.CreateClaim(ctx, ns, n, "", true))
			must(t, sim.Progress(ctx, ns, n, 12))
			must(t, sim.Fail(ctx, ns, n, "ImportFailed", "unable to read the image"))
		}, 8, []string{"bad  Failed"}, "unable to read the image"},
		{"slow", []string{"--timeout", "2s"}, func(n string) {
			must(t, sim.Progress(ctx, ns, n, 1))
		}, 7, []string{"slow  ImportInProgress  1.00%"}, "gave up waiting"},
		{"wffc", nil, func(n string) {
			must(t, sim.CreateClaim(ctx, ns, n, "", false))
			must(t, sim.WaitForFirstConsumer(ctx, ns, n))
		}, 5, nil, "--force-bind"},
		{"pending-pop", nil, func(n string) {
			must(t, sim.PendingPopulation(ctx, ns, n))
		}, 5, nil, "PendingPopulation"},
		{"prov", nil, func(n string) {
			must(t, sim.CreateClaim(ctx, ns, n, "", false))
			must(t, sim.Event(ctx, ns, "PersistentVolumeClaim", n, corev1.EventTypeWarning, "ProvisioningFailed", "rbd: pool does not exist"))
		}, 5, nil, "ProvisioningFailed"},
		{"notvalid", nil, func(n string) {
			must(t, sim.Event(ctx, ns, "DataVolume", n, corev1.EventTypeWarning, "ErrClaimNotValid", "claim is not valid"))
		}, 5, nil, "ErrClaimNotValid"},
		{"gone", nil, func(n string) {
			client, err := cdiclient.NewForConfig(env.Config)
			must(t, err)
			must(t, client.CdiV1beta1().DataVolumes(ns).Delete(ctx, n, metav1.DeleteOptions{}))
		}, 3, nil, "deleted while waiting"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"otterscale", "dv", "create", tt.name, "-n", ns, "--size", "1Gi", "--url", "https://example.com/disk.img", "--wait"}, tt.extra...)
			p := start(t, env, dir, args...)
			exists(ns, tt.name)
			p.until(t, "created")
			tt.act(tt.name)
			code := p.wait(t)
			out, errOut := p.stdout.String(), p.stderr.String()
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)\nstdout:\n%s", code, tt.code, errOut, tt.stderr, out)
			}
			for _, line := range tt.stdout {
				if !strings.Contains(out, line) {
					t.Errorf("stdout lacks %q:\n%s", line, out)
				}
			}
			if strings.Contains(out+errOut, "\x1b") {
				t.Errorf("piped output holds an escape sequence: %q", out)
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		r := kubectl(t, env, dir, "otterscale", "dv", "wait", "nope", "-n", ns)
		if r.code != 3 || !strings.Contains(r.stderr, `data volume "nope" in namespace "wait-e2e" not found`) {
			t.Errorf("%+v", r)
		}
	})
	t.Run("ctrl-c", func(t *testing.T) {
		p := start(t, env, dir, "otterscale", "dv", "create", "left", "-n", ns, "--size", "1Gi", "--wait")
		exists(ns, "left")
		p.until(t, "left  ")
		// kubectl execs the plugin in its own process: signal both, as a
		// terminal's Ctrl-C does to the foreground process group.
		must(t, syscall.Kill(p.cmd.Process.Pid, syscall.SIGINT))
		code := p.wait(t)
		if code != 130 || !strings.Contains(p.stderr.String(), "is left as it is") {
			t.Errorf("exit %d, stderr %q", code, p.stderr)
		}
		client, err := cdiclient.NewForConfig(env.Config)
		must(t, err)
		if _, err := client.CdiV1beta1().DataVolumes(ns).Get(ctx, "left", metav1.GetOptions{}); err != nil {
			t.Errorf("the data volume did not survive Ctrl-C: %v", err)
		}
	})
}

// watch prints a line per change and JSON per change, and keeps going
// across an API server restart without losing or repeating the final state.
func TestWatchThroughKubectl(t *testing.T) {
	env := testenv.Require(t)
	dir := pluginOnPath(t)
	ns := "watch-e2e"
	_, err := env.Kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must(t, err)
	sim, exists := cdi(t, env)
	ctx := t.Context()

	lines := start(t, env, dir, "otterscale", "dv", "watch", "-n", ns)
	asJSON := start(t, env, dir, "otterscale", "dv", "watch", "-n", ns, "-o", "json")
	r := kubectl(t, env, dir, "otterscale", "dv", "create", "w1", "-n", ns, "--size", "1Gi", "--url", "https://example.com/a.img")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	exists(ns, "w1")
	must(t, sim.CreateClaim(ctx, ns, "w1", "", true))
	must(t, sim.Progress(ctx, ns, "w1", 45.67))
	lines.until(t, "w1  ImportInProgress  45.67%  TransferRunning")
	must(t, sim.Restart(ctx, ns, "w1"))
	lines.until(t, "BackOff")

	// The API server goes away and comes back; the change made while it
	// was down must arrive once.
	restarted := make(chan error, 1)
	go func() { restarted <- env.RestartAPIServer(context.Background()) }()
	must(t, <-restarted)
	must(t, sim.Succeed(ctx, ns, "w1"))
	lines.until(t, "w1  Succeeded")
	asJSON.until(t, `"phase":"Succeeded"`)
	time.Sleep(2 * time.Second) // room for a duplicate to show up, if one would
	for _, p := range []*proc{lines, asJSON} {
		must(t, p.cmd.Process.Signal(syscall.SIGINT))
		if code := p.wait(t); code != 0 {
			t.Errorf("watch ended with %d\n%s", code, p.stderr)
		}
	}
	if n := strings.Count(lines.stdout.String(), "w1  Succeeded"); n != 1 {
		t.Errorf("the final state arrived %d times:\n%s", n, lines.stdout)
	}
	succeeded := 0
	sc := bufio.NewScanner(strings.NewReader(asJSON.stdout.String()))
	for sc.Scan() {
		var dv map[string]any
		if err := json.Unmarshal(sc.Bytes(), &dv); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		if dv["phase"] == "Succeeded" {
			succeeded++
		}
	}
	if succeeded != 1 {
		t.Errorf("%d JSON lines with the final state:\n%s", succeeded, asJSON.stdout)
	}
	if out := lines.stdout.String() + asJSON.stdout.String(); strings.Contains(out, "\x1b") {
		t.Errorf("piped output holds an escape sequence")
	}
}
