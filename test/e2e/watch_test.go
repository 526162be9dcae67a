package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// proc is the plugin running in the background through kubectl.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
}

// syncBuffer collects a process's output while it runs.
type syncBuffer = testenv.Buffer

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

// cdi plays CDI's part (internal/cdisim, set-up C), waiting first for the
// DataVolume the command creates.
func cdi(t *testing.T, env *testenv.Env) (*cdisim.Sim, func(ns, name string)) {
	t.Helper()
	return cdiWith(t, env, cdisim.SetupC)
}

// cdiWith is cdi in another of CDI's set-ups.
func cdiWith(t *testing.T, env *testenv.Env, setup cdisim.Setup) (*cdisim.Sim, func(ns, name string)) {
	t.Helper()
	sim, err := cdisim.NewWith(env.Config, cdisim.Options{Setup: setup})
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
	// The older path with the HonorWaitForFirstConsumer gate (CDI.md,
	// first consumer): WaitForFirstConsumer.
	simGate, _ := cdiWith(t, env, cdisim.SetupAGate)
	ctx := t.Context()
	// A class that binds on first consumer, as ceph-csi's can.
	wffc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: "ceph-wffc"},
		Provisioner:       cdisim.CSIDriver,
		VolumeBindingMode: new(storagev1.VolumeBindingWaitForFirstConsumer),
	}
	if _, err := env.Kube.StorageV1().StorageClasses().Create(ctx, wffc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		extra  []string
		act    func(name string)
		code   int
		stdout []string
		stderr string
	}{
		{"ok", nil, func(n string) {
			must(t, sim.Start(ctx, ns, n))
			must(t, sim.Schedule(ctx, ns, n))
			must(t, sim.Progress(ctx, ns, n, 45.67))
			must(t, sim.Succeed(ctx, ns, n))
		}, 0, []string{"ok  ImportScheduled", "ok  ImportInProgress  45.67%  Pod is running", "ok  Succeeded"}, ""},
		// The one way CDI fails an import's phase: its claim lost
		// (CDI.md, failing import).
		{"bad", nil, func(n string) {
			must(t, sim.Start(ctx, ns, n))
			must(t, sim.Progress(ctx, ns, n, 12))
			must(t, sim.LoseClaim(ctx, ns, n))
		}, 8, []string{"bad  Failed"}, "failed"},
		{"slow", []string{"--timeout", "2s"}, func(n string) {
			must(t, sim.Start(ctx, ns, n))
			must(t, sim.Progress(ctx, ns, n, 1))
		}, 7, []string{"slow  ImportInProgress  1.00%"}, "gave up waiting"},
		{"wffc", []string{"--storage-class", "ceph-wffc"}, func(n string) {
			must(t, simGate.Start(ctx, ns, n))
		}, 5, nil, "--force-bind"},
		{"pending-pop", []string{"--storage-class", "ceph-wffc"}, func(n string) {
			must(t, sim.Start(ctx, ns, n))
		}, 5, nil, "PendingPopulation"},
		// A class that does not exist: only the PV controller says why
		// (CDI.md).
		{"prov", []string{"--storage-class", "does-not-exist"}, func(n string) {
			must(t, sim.Start(ctx, ns, n))
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
	must(t, sim.Start(ctx, ns, "w1"))
	must(t, sim.Progress(ctx, ns, "w1", 45.67))
	lines.until(t, "w1  ImportInProgress  45.67%  Pod is running")
	// The importer crashing on a 404 and restarted (CDI.md, failing import).
	must(t, sim.Crash(ctx, ns, "w1", "Unable to connect to http data source: expected status code 200, got 404. Status: 404 Not Found"))
	lines.until(t, "ErrImportFailed")

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
