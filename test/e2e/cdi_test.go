package e2e

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// The importer's words for a URL that answers 404, as real CDI v1.63.1
// showed them (cdi-observed/recC.log 21:44:36 c-url), and for a source
// that cannot be reached (pkg/importer/http-datasource.go: "HTTP request
// errored", wrapped by the importer's "Unable to connect to http data
// source").
const (
	importer404     = "Unable to connect to http data source: expected status code 200, got 404. Status: 404 Not Found"
	importerRefused = "Unable to connect to http data source: HTTP request errored: Get \"https://example.com/disk.img\": dial tcp 93.184.215.14:443: connect: connection refused"
)

// Each way an import ends, on both of CDI's paths (populator, set-up C:
// ceph-csi's CSIDriver and HonorWaitForFirstConsumer; older, set-up A), as
// cdisim reproduces real CDI: `dv create --url ... --wait` run through
// kubectl off a terminal ends with the exit code and words a user would
// see on a real cluster.
func TestWaitFollowsRealCDI(t *testing.T) {
	env := testenv.Require(t)
	dir := pluginOnPath(t)
	ctx := t.Context()
	ns := "cdi-e2e"
	_, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must(t, err)
	for name, mode := range map[string]storagev1.VolumeBindingMode{"e2e-now": storagev1.VolumeBindingImmediate, "e2e-wffc": storagev1.VolumeBindingWaitForFirstConsumer} {
		_, err := env.Kube.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: cdisim.CSIDriver,
			Parameters:        map[string]string{"clusterID": cdisim.ClusterID, "pool": cdisim.Pool},
			VolumeBindingMode: &mode,
		}, metav1.CreateOptions{})
		must(t, err)
	}
	_, exists := cdi(t, env)
	// minutesAgo is a clock two minutes behind: what CDI wrote then is
	// what a user sees two minutes later.
	minutesAgo := func() time.Time { return time.Now().Add(-2 * time.Minute) }

	type step func(sim *cdisim.Sim, name string)
	seq := func(steps ...func(*cdisim.Sim, string) error) step {
		return func(sim *cdisim.Sim, name string) {
			for _, s := range steps {
				must(t, s(sim, name))
				time.Sleep(300 * time.Millisecond) // each state reaches the watch
			}
		}
	}
	begin := func(s *cdisim.Sim, n string) error { return s.Start(ctx, ns, n) }
	schedule := func(s *cdisim.Sim, n string) error { return s.Schedule(ctx, ns, n) }
	run := func(s *cdisim.Sim, n string) error { return s.Run(ctx, ns, n) }
	progress := func(s *cdisim.Sim, n string) error { return s.Progress(ctx, ns, n, 45.67) }
	succeed := func(s *cdisim.Sim, n string) error { return s.Succeed(ctx, ns, n) }
	crash := func(msg string) func(*cdisim.Sim, string) error {
		return func(s *cdisim.Sim, n string) error { return s.Crash(ctx, ns, n, msg) }
	}
	unschedulable := func(s *cdisim.Sim, n string) error {
		return s.Unschedulable(ctx, ns, n, "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
	}
	lose := func(s *cdisim.Sim, n string) error { return s.LoseClaim(ctx, ns, n) }
	// bindClaim has the provisioner bind the DataVolume's claim before the
	// scheduler places the importer, on the older path (where the importer
	// writes to it); the populator path's prime claim needs no more here.
	bindClaim := func(setup cdisim.Setup) func(*cdisim.Sim, string) error {
		return func(_ *cdisim.Sim, n string) error {
			if setup != cdisim.SetupA && setup != cdisim.SetupAGate {
				return nil
			}
			pvc, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return err
			}
			return cdisim.Bind(ctx, env.Kube.CoreV1(), pvc, pvc.Spec.Resources.Requests[corev1.ResourceStorage])
		}
	}

	for _, setup := range []struct {
		name string
		opts cdisim.Options
		// firstPhase is how the view reads the DataVolume before CDI
		// schedules the import.
		firstPhase string
	}{
		{"populator", cdisim.Options{Setup: cdisim.SetupC}, "Pending"},
		{"older", cdisim.Options{Setup: cdisim.SetupA}, "Pending"},
	} {
		t.Run(setup.name, func(t *testing.T) {
			sim, err := cdisim.NewWith(env.Config, setup.opts)
			must(t, err)
			late := setup.opts
			late.Now = minutesAgo
			simLate, err := cdisim.NewWith(env.Config, late)
			must(t, err)
			for _, tt := range []struct {
				name   string
				extra  []string
				sim    *cdisim.Sim
				act    step
				code   int
				stdout []string
				stderr []string
			}{
				{"ok", nil, sim, seq(begin, schedule, run, progress, succeed), 0,
					[]string{"  " + setup.firstPhase + "  ", "  ImportScheduled  ", "  ImportInProgress  45.67%  Pod is running", "  Succeeded  100.0%"}, nil},
				// The importer fails on a 404: CDI restarts it and never sets
				// phase Failed; the wait ends at the first failure.
				{"notfound", nil, sim, seq(begin, schedule, run, crash(importer404)), 8,
					nil, []string{"failed: Error: " + importer404 + " (importer 1 restart)", "--url"}},
				// A source that cannot be reached may come back: the wait
				// allows --max-restarts restarts, then gives up.
				{"refused", []string{"--max-restarts", "2"}, sim, seq(begin, schedule, run, crash(importerRefused), crash(importerRefused), crash(importerRefused)), 8,
					nil, []string{"failed: Error: " + importerRefused + " (importer 3 restarts)", "--max-restarts"}},
				// Unschedulable for two minutes: blocked; the scheduler's
				// words are in the FailedScheduling event printed before.
				// On the older path CDI reads the pod only once the claim
				// is bound (cdi-observed/recE.log a-sc).
				{"nonode", nil, simLate, seq(begin, bindClaim(setup.opts.Setup), unschedulable), 5,
					[]string{"Warning  FailedScheduling  0/1 nodes are available: 1 Insufficient memory."},
					[]string{"is blocked: Unschedulable: Importer pod cannot be scheduled", "FailedScheduling"}},
				// Unschedulable for a moment, while a claim binds: not blocked.
				{"binding", nil, sim, seq(begin, unschedulable, schedule, run, succeed), 0, nil, nil},
				{"lost", nil, sim, seq(begin, schedule, run, lose), 8, nil, []string{"failed: "}},
				{"noclass", []string{"--storage-class", "does-not-exist"}, sim, seq(begin), 5,
					nil, []string{`is blocked: ProvisioningFailed: storageclass.storage.k8s.io "does-not-exist" not found`}},
			} {
				t.Run(tt.name, func(t *testing.T) {
					name := setup.name[:3] + "-" + tt.name
					args := []string{"otterscale", "dv", "create", name, "-n", ns, "--size", "1Gi", "--url", "https://example.com/disk.img", "--storage-class", "e2e-now", "--wait"}
					p := start(t, env, dir, append(args, tt.extra...)...)
					exists(ns, name)
					p.until(t, "created")
					tt.act(tt.sim, name)
					code := p.wait(t)
					out, errOut := p.stdout.String(), p.stderr.String()
					if code != tt.code {
						t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
					}
					for _, s := range tt.stdout {
						if !strings.Contains(out, s) {
							t.Errorf("stdout lacks %q:\n%s", s, out)
						}
					}
					for _, s := range tt.stderr {
						if !strings.Contains(errOut, s) {
							t.Errorf("stderr lacks %q:\n%s", s, errOut)
						}
					}
					if strings.Contains(out, "  -  N/A") {
						t.Errorf("a line reads an empty phase as -:\n%s", out)
					}
					if t.Failed() {
						t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
					}
				})
			}
		})
	}

	// A class that binds on first use: CDI's populator path waits in
	// PendingPopulation (set-up C), the older path with the gate in
	// WaitForFirstConsumer; both block the wait with the hint.
	for _, tt := range []struct {
		setup cdisim.Setup
		name  string
		phase string
	}{
		{cdisim.SetupC, "pop-wffc", "PendingPopulation"},
		{cdisim.SetupAGate, "old-wffc", "WaitForFirstConsumer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sim, err := cdisim.NewWith(env.Config, cdisim.Options{Setup: tt.setup})
			must(t, err)
			p := start(t, env, dir, "otterscale", "dv", "create", tt.name, "-n", ns, "--size", "1Gi", "--url", "https://example.com/disk.img", "--storage-class", "e2e-wffc", "--wait")
			exists(ns, tt.name)
			p.until(t, "created")
			must(t, sim.Start(ctx, ns, tt.name))
			if code := p.wait(t); code != 5 || !strings.Contains(p.stderr.String(), "is blocked: "+tt.phase) || !strings.Contains(p.stderr.String(), "--force-bind") {
				t.Errorf("exit %d, stderr %q", code, p.stderr)
			}
		})
	}
}
