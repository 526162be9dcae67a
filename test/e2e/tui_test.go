package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// tmuxSession runs a command in a detached tmux session of a fixed size,
// so that a test can type into it and read its screen as a person would.
type tmuxSession struct {
	t    *testing.T
	name string
}

func newTmux(t *testing.T, env *testenv.Env, dir string, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		daemon.Absent(t, "tmux is not installed (make system-deps installs it)")
	}
	s := &tmuxSession{t: t, name: "otterscale-e2e-" + strings.ReplaceAll(t.Name(), "/", "-")}
	shell := "export PATH=" + dir + ":$PATH KUBECONFIG=" + env.Kubeconfig + " TERM=xterm-256color; " + command + "; echo EXITED=$?; sleep 30"
	out, err := exec.Command("tmux", "new-session", "-d", "-s", s.name, "-x", "110", "-y", "24", "bash", "-c", shell).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", s.name).Run() })
	return s
}

func (s *tmuxSession) screen() string {
	out, err := exec.Command("tmux", "capture-pane", "-p", "-t", s.name).Output()
	if err != nil {
		s.t.Fatalf("capture-pane: %v", err)
	}
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	if out, err := exec.Command("tmux", append([]string{"send-keys", "-t", s.name}, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys: %v: %s", err, out)
	}
}

// until waits for the screen to show every one of want.
func (s *tmuxSession) until(want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen := s.screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(screen, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %q:\n%s", missing, screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The full-screen view, driven in a real terminal: rows appear and change
// live, enter shows the detail, q quits and gives the terminal back.
func TestWatchScreenInTmux(t *testing.T) {
	env := testenv.Require(t)
	dir := pluginOnPath(t)
	ns := "tui-e2e"
	_, err := env.Kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must(t, err)
	sim, exists := cdi(t, env)
	ctx := t.Context()
	for _, name := range []string{"alpha", "beta"} {
		if r := kubectl(t, env, dir, "otterscale", "dv", "create", name, "-n", ns, "--size", "2Gi", "--url", "https://example.com/"+name+".img"); r.code != 0 {
			t.Fatalf("%+v", r)
		}
		exists(ns, name)
	}

	s := newTmux(t, env, dir, "kubectl otterscale dv watch -n "+ns)
	s.until("alpha", "beta")
	must(t, sim.Start(ctx, ns, "alpha"))
	must(t, sim.Start(ctx, ns, "beta"))
	must(t, sim.Progress(ctx, ns, "alpha", 45.67))
	s.until("ImportInProgress", "45.67%", "Pod is running")
	must(t, sim.Succeed(ctx, ns, "beta"))
	s.until("Succeeded")

	// The detail pane of the selected DataVolume (the first row, alpha).
	s.keys("Enter")
	s.until("Running", "Ready", "Bound")
	s.keys("Escape")
	s.until("alpha", "beta")
	s.keys("q")
	screen := s.until("EXITED=0")
	if strings.Contains(screen, "45.67%") {
		t.Errorf("the view's last frame is still on screen after quitting:\n%s", screen)
	}
}

// A thousand DataVolumes, each updated while the view runs: the counts and
// the rows the view ends on are what the API server holds.
func TestWatchThousandInTmux(t *testing.T) {
	env := testenv.Require(t)
	dir := pluginOnPath(t)
	ns := "many"
	ctx := t.Context()
	_, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must(t, err)
	client, err := cdiclient.NewForConfig(env.Config)
	must(t, err)
	sim, _ := cdi(t, env)
	const n = 1000
	name := func(i int) string { return fmt.Sprintf("dv-%04d", i) }
	parallel(t, n, func(i int) error {
		_, err := client.CdiV1beta1().DataVolumes(ns).Create(ctx, &cdiv1.DataVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name(i), Namespace: ns},
			Spec: cdiv1.DataVolumeSpec{
				Source:  &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}},
				Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			},
		}, metav1.CreateOptions{})
		return err
	})

	s := newTmux(t, env, dir, "kubectl otterscale dv watch -n "+ns)
	s.until("1000 · sorted by name", name(0))
	parallel(t, n, func(i int) error {
		if err := sim.Start(ctx, ns, name(i)); err != nil {
			return err
		}
		return sim.Progress(ctx, ns, name(i), 50)
	})
	parallel(t, n, func(i int) error {
		if i == 7 {
			// The one way CDI fails an import's phase (CDI.md).
			return sim.LoseClaim(ctx, ns, name(i))
		}
		return sim.Succeed(ctx, ns, name(i))
	})
	list, err := client.CdiV1beta1().DataVolumes(ns).List(ctx, metav1.ListOptions{})
	must(t, err)
	phases := map[cdiv1.DataVolumePhase]int{}
	for _, dv := range list.Items {
		phases[dv.Status.Phase]++
	}
	if phases[cdiv1.Succeeded] != n-1 || phases[cdiv1.Failed] != 1 {
		t.Fatalf("the API server holds %v", phases)
	}
	// Filter on the phase: the view's counts must match the server's.
	s.keys("/", "Succeeded", "Enter")
	s.until(fmt.Sprintf("%d/%d · sorted by name", n-1, n), name(0))
	// Escape alone, and wait for it to land: an escape followed at once by
	// "/" reads as alt+/, to a terminal program as to any other.
	s.keys("Escape")
	s.until(fmt.Sprintf(" %d · sorted by name", n)) // not "999/1000 · ..."
	s.keys("/", "Failed", "Enter")
	// CDI fails the import's phase by its lost claim, the claim column says.
	screen := s.until(fmt.Sprintf("1/%d · sorted by name", n), name(7), "Lost")
	if strings.Contains(screen, name(0)) {
		t.Errorf("the Failed filter shows %s:\n%s", name(0), screen)
	}
	s.keys("q")
	s.until("EXITED=0")
}

// parallel runs f for 0..n-1 on a few workers, failing the test on the
// first error.
func parallel(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
