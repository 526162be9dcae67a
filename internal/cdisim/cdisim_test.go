package cdisim_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.WithStorageClass(testenv.StorageClass, true),
		testenv.WithSetup(func(ctx context.Context, env *testenv.Env) error {
			// The first-consumer class of the recordings (ceph-wffc).
			wffc := &storagev1.StorageClass{
				ObjectMeta:        metav1.ObjectMeta{Name: "ceph-wffc"},
				Provisioner:       cdisim.CSIDriver,
				VolumeBindingMode: new(storagev1.VolumeBindingWaitForFirstConsumer),
			}
			_, err := env.Kube.StorageV1().StorageClasses().Create(ctx, wffc, metav1.CreateOptions{})
			return err
		}))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The importer's termination message for a URL that answers 404 (recC.log
// 21:44:36 c-url).
const msg404 = "Unable to connect to http data source: expected status code 200, got 404. Status: 404 Not Found"

// The scheduler's message for an importer pod whose claim is unbound.
const schedMsg = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."

// dvLine formats a DataVolume as the recordings do (cdi-observed/README.md):
// phase, progress, claim, restarts, conditions Type=Status/Reason/Message in
// order; None for what is unset.
func dvLine(dv *cdiv1.DataVolume) string {
	none := func(s string) string {
		if s == "" {
			return "None"
		}
		return s
	}
	restarts := "None"
	if dv.Status.RestartCount != 0 {
		restarts = fmt.Sprint(dv.Status.RestartCount)
	}
	conds := make([]string, 0, len(dv.Status.Conditions))
	for _, c := range dv.Status.Conditions {
		conds = append(conds, fmt.Sprintf("%s=%s/%s/%s", c.Type, c.Status, c.Reason, c.Message))
	}
	return fmt.Sprintf("phase=%s progress=%s claim=%s restarts=%s conds=[%s]",
		none(string(dv.Status.Phase)), none(string(dv.Status.Progress)), none(dv.Status.ClaimName), restarts,
		strings.Join(conds, " | "))
}

// dvRecorder collects every state a DataVolume passes through, from a
// watch, as the recorder of the recordings did (without its 2 s blind spot).
type dvRecorder struct {
	w      watch.Interface
	lastRV string
	last   string
}

func (r *dvRecorder) until(t *testing.T, rv string) []string {
	t.Helper()
	var lines []string
	timeout := time.After(10 * time.Second)
	for r.lastRV != rv {
		select {
		case ev, ok := <-r.w.ResultChan():
			if !ok {
				t.Fatal("data volume watch closed")
			}
			dv, ok := ev.Object.(*cdiv1.DataVolume)
			if !ok {
				continue
			}
			r.lastRV = dv.ResourceVersion
			if len(dv.Status.Conditions) == 0 {
				continue // not yet seen by CDI
			}
			if l := dvLine(dv); l != r.last {
				lines, r.last = append(lines, l), l
			}
		case <-timeout:
			t.Fatalf("data volume resource version %s never came through the watch", rv)
		}
	}
	return lines
}

// objects lists the claims and pods of a namespace as "PVC name phase mode
// request" and "POD name phase node", with claim UIDs replaced by <uid>.
func objects(t *testing.T, env *testenv.Env, ns string) []string {
	t.Helper()
	ctx := t.Context()
	claims, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	must(t, err)
	pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	must(t, err)
	var out []string
	var uids []string
	for _, c := range claims.Items {
		uids = append(uids, string(c.UID))
	}
	norm := func(s string) string {
		for _, u := range uids {
			s = strings.ReplaceAll(s, u, "<uid>")
		}
		return s
	}
	for _, c := range claims.Items {
		if c.DeletionTimestamp != nil || c.Name == "golden" || c.Name == "golden-blk" {
			continue
		}
		mode := "Filesystem"
		if c.Spec.VolumeMode != nil {
			mode = string(*c.Spec.VolumeMode)
		}
		q := c.Spec.Resources.Requests[corev1.ResourceStorage]
		out = append(out, norm(fmt.Sprintf("PVC %s %s %s %s", c.Name, c.Status.Phase, mode, q.String())))
	}
	for _, p := range pods.Items {
		out = append(out, norm(fmt.Sprintf("POD %s %s %s", p.Name, p.Status.Phase, p.Spec.NodeName)))
	}
	slices.Sort(out)
	return out
}

// events lists a namespace's events as "Kind/name Type Reason "message"
// xCount component", claim UIDs replaced by <uid>.
func events(t *testing.T, env *testenv.Env, ns string) []string {
	t.Helper()
	ctx := t.Context()
	list, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	must(t, err)
	claims, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	must(t, err)
	var out []string
	for _, e := range list.Items {
		l := fmt.Sprintf("%s/%s %s %s %q x%d %s", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Type, e.Reason, e.Message, e.Count, e.Source.Component)
		for _, c := range claims.Items {
			l = strings.ReplaceAll(l, string(c.UID), "<uid>")
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// step is one call on the Sim with what the recordings say follows it: the
// DataVolume states CDI writes during it, in order, and the claims and pods
// after it (nil: not checked).
type step struct {
	do      func(ctx context.Context, sim *cdisim.Sim, ns, name string) error
	dv      []string
	objects []string
}

func start(ctx context.Context, sim *cdisim.Sim, ns, name string) error {
	return sim.Start(ctx, ns, name)
}
func schedule(ctx context.Context, sim *cdisim.Sim, ns, name string) error {
	return sim.Schedule(ctx, ns, name)
}
func run(ctx context.Context, sim *cdisim.Sim, ns, name string) error { return sim.Run(ctx, ns, name) }
func progress(ctx context.Context, sim *cdisim.Sim, ns, name string) error {
	return sim.Progress(ctx, ns, name, 45.671)
}
func succeed(ctx context.Context, sim *cdisim.Sim, ns, name string) error {
	return sim.Succeed(ctx, ns, name)
}
func crash(ctx context.Context, sim *cdisim.Sim, ns, name string) error {
	return sim.Crash(ctx, ns, name, msg404)
}
func unschedulable(ctx context.Context, sim *cdisim.Sim, ns, name string) error {
	return sim.Unschedulable(ctx, ns, name, schedMsg)
}
func loseClaim(ctx context.Context, sim *cdisim.Sim, ns, name string) error {
	return sim.LoseClaim(ctx, ns, name)
}
func startClone(ctx context.Context, sim *cdisim.Sim, ns, name string) error {
	return sim.StartClone(ctx, ns, name)
}
func succeedClone(ctx context.Context, sim *cdisim.Sim, ns, name string) error {
	return sim.SucceedClone(ctx, ns, name)
}

// simCase is one DataVolume driven through steps in one set-up.
type simCase struct {
	name   string // the DataVolume's name, as in the recordings
	setup  cdisim.Setup
	dv     func(name string) *cdiv1.DataVolume
	steps  []step
	events []string // events that must be there at the end
}

func urlDV(name string) *cdiv1.DataVolume {
	dv := blankDV(name)
	dv.Spec.Source = &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "https://example.com/disk.qcow2"}}
	return dv
}

func blankDV(name string) *cdiv1.DataVolume {
	return &cdiv1.DataVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"otterscale.com/data-volume.boot-image": "false"}},
		Spec: cdiv1.DataVolumeSpec{
			Source: &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}},
			Storage: &cdiv1.StorageSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceStorage: resource.MustParse("1Gi"),
				}},
			},
		},
	}
}

func inClass(class string, dv func(string) *cdiv1.DataVolume) func(string) *cdiv1.DataVolume {
	return func(name string) *cdiv1.DataVolume {
		d := dv(name)
		d.Spec.Storage.StorageClassName = &class
		return d
	}
}

func forceBind(dv func(string) *cdiv1.DataVolume) func(string) *cdiv1.DataVolume {
	return func(name string) *cdiv1.DataVolume {
		d := dv(name)
		d.Annotations = map[string]string{"cdi.kubevirt.io/storage.bind.immediate.requested": "true"}
		return d
	}
}

func cloneDV(source string) func(string) *cdiv1.DataVolume {
	return func(name string) *cdiv1.DataVolume {
		d := blankDV(name)
		d.Spec.Source = &cdiv1.DataVolumeSource{PVC: &cdiv1.DataVolumeSourcePVC{Name: source}}
		return d
	}
}

// The DataVolume states of the recordings, for a DataVolume named n.
func conds(bound, ready, running string) string {
	return "conds=[" + bound + " | " + ready + " | " + running + "]"
}

func pending(n string) string { return "Bound=False/Pending/PVC " + n + " Pending" }
func bound(n string) string   { return "Bound=True/Bound/PVC " + n + " Bound" }

const (
	notReady     = "Ready=False//"
	transferring = "Ready=False/TransferRunning/"
	ready        = "Ready=True//"
	notRunning   = "Running=False//"
	podRunning   = "Running=True/Pod is running/"
	staleRunning = "Running=False/Pod is running/"
	errRunning   = "Running=False/Error/" + msg404
	completed    = "Running=False/Completed/Import Complete"
	unsched      = "Running=False/Unschedulable/Importer pod cannot be scheduled"
)

func state(phase, progress, n string, restarts, c string) string {
	return fmt.Sprintf("phase=%s progress=%s claim=%s restarts=%s %s", phase, progress, n, restarts, c)
}

// importCases are the import cases of one set-up; prefix is the
// recordings' name prefix for it (c, b, a, l).
func importCases(setup cdisim.Setup, prefix string) []simCase {
	populator := setup == cdisim.SetupC || setup == cdisim.SetupB
	gate := setup == cdisim.SetupC || setup == cdisim.SetupAGate
	url := prefix + "-url"
	p := pending
	// The claim the importer writes to and the importer pod, by path.
	writeClaim := func(n, phase string) string {
		if populator {
			return "PVC prime-<uid> " + phase + " Block 1073741824"
		}
		return "PVC " + n + " " + phase + " Block 1073741824"
	}
	target := func(n, phase string) string { return "PVC " + n + " " + phase + " Block 1073741824" }
	podName := func(n string) string {
		if populator {
			return "importer-prime-<uid>"
		}
		return "importer-" + n
	}
	pod := func(n, phase, node string) string { return "POD " + podName(n) + " " + phase + " " + node }
	started := func(n string) []string {
		if populator {
			return []string{writeClaim(n, "Pending"), target(n, "Pending"), pod(n, "Pending", "")}
		}
		return []string{target(n, "Pending"), pod(n, "Pending", "")}
	}
	scheduled := func(n string) []string {
		if populator {
			return []string{writeClaim(n, "Bound"), target(n, "Pending"), pod(n, "Pending", "node1")}
		}
		return []string{target(n, "Bound"), pod(n, "Pending", "node1")}
	}
	runningObjs := func(n string) []string {
		if populator {
			return []string{writeClaim(n, "Bound"), target(n, "Pending"), pod(n, "Running", "node1")}
		}
		return []string{target(n, "Bound"), pod(n, "Running", "node1")}
	}
	// Start: "" on the populator path (recC.log 21:41:22 c-url, recB.log
	// 21:40:42 b-blank), Pending on the older path (recA.log 21:40:32
	// a-url).
	startPhase := "Pending"
	if populator {
		startPhase = "None"
	}
	startState := func(n string) string { return state(startPhase, "N/A", n, "None", conds(p(n), notReady, notRunning)) }
	// Bound while the import runs: False/Pending on the populator path
	// (recC.log 21:43:23 c-blank, 21:43:57 c-url), True/Bound on the older
	// path once its claim is bound (recA.log 21:43:06 a-url, recE.log
	// 21:47:35 a-url).
	b := func(n string) string {
		if populator {
			return pending(n)
		}
		return bound(n)
	}
	scheduledState := func(n string) string {
		return state("ImportScheduled", "N/A", n, "None", conds(b(n), notReady, notRunning))
	}
	runningState := func(n, progress string) string {
		// recC.log 21:43:57 c-url; CDI.md "Importer running".
		return state("ImportInProgress", progress, n, "None", conds(b(n), transferring, podRunning))
	}
	// recC.log 21:44:25 c-blank (Bound still Pending), recE.log 21:47:35
	// a-blank (Bound True).
	succeededState := func(n string) string {
		return state("Succeeded", "100.0%", n, "None", conds(b(n), ready, completed))
	}
	// The claim bound; on the populator path the prime claim's volume is
	// now the target claim's, prime claim and importer pod gone
	// (import-populator.go, Rebind).
	succeededObjs := []string{target(url, "Bound")}

	dvComponent := "datavolume-import-controller"
	writeClaimName := func(n string) string {
		if populator {
			return "prime-<uid>"
		}
		return n
	}

	cases := []simCase{{
		name: url, setup: setup, dv: urlDV,
		steps: []step{
			{do: start, dv: []string{startState(url)}, objects: started(url)},
			{do: schedule, dv: []string{scheduledState(url)}, objects: scheduled(url)},
			{do: run, dv: []string{runningState(url, "N/A")}, objects: runningObjs(url)},
			// CDI formats the importer's metric "%.2f%%"
			// (controller-base.go, import-populator.go).
			{do: progress, dv: []string{runningState(url, "45.67%")}, objects: runningObjs(url)},
			{do: succeed, dv: []string{succeededState(url)}, objects: succeededObjs},
		},
		events: func() []string {
			ev := []string{
				fmt.Sprintf("DataVolume/%s Normal Pending %q x1 %s", url, "PVC "+url+" Pending", dvComponent),
				fmt.Sprintf("DataVolume/%s Normal ImportScheduled %q x1 %s", url, "Import into "+url+" scheduled", dvComponent),
				fmt.Sprintf("DataVolume/%s Normal ImportInProgress %q x1 %s", url, "Import into "+url+" in progress", dvComponent),
				fmt.Sprintf("DataVolume/%s Normal ImportSucceeded %q x1 %s", url, "Successfully imported into PVC "+url, dvComponent),
				// CDI.md Succeeded: "ImportSucceeded" "Import Successful" on
				// the prime claim.
				fmt.Sprintf("PersistentVolumeClaim/%s Normal ImportSucceeded \"Import Successful\" x1 import-controller", writeClaimName(url)),
			}
			if populator {
				// CDI.md Succeeded: lower-case importSucceeded on the target.
				ev = append(ev, fmt.Sprintf("PersistentVolumeClaim/%s Normal importSucceeded %q x1 import-populator", url, "Successfully imported into "+url))
			} else {
				ev = append(ev, fmt.Sprintf("DataVolume/%s Normal Bound %q x1 %s", url, "PVC "+url+" Bound", dvComponent))
			}
			return ev
		}(),
	}}

	// The 404 crash loop: restarts with Running False, first with the
	// stale reason, then Error with the message (recC.log 21:44:10 and
	// 21:44:36 c-url; recE.log 21:47:35 a-url).
	crashName := prefix + "-crash"
	cases = append(cases, simCase{
		name: crashName, setup: setup, dv: urlDV,
		steps: []step{
			{do: start, dv: []string{startState(crashName)}},
			{do: run, dv: []string{scheduledState(crashName), runningState(crashName, "N/A")}},
			{do: crash, dv: []string{
				state("ImportInProgress", "N/A", crashName, "1", conds(b(crashName), notReady, staleRunning)),
				state("ImportInProgress", "N/A", crashName, "1", conds(b(crashName), notReady, errRunning)),
			}, objects: runningObjs(crashName)},
			{do: crash, dv: []string{
				state("ImportInProgress", "N/A", crashName, "2", conds(b(crashName), notReady, staleRunning)),
				state("ImportInProgress", "N/A", crashName, "2", conds(b(crashName), notReady, errRunning)),
			}, objects: runningObjs(crashName)},
		},
		events: []string{
			// CDI.md Failing import: Warning Error on the DataVolume,
			// Warning ErrImportFailed on the (prime) claim, counting up.
			fmt.Sprintf("DataVolume/%s Warning Error %q x2 %s", crashName, msg404, dvComponent),
			fmt.Sprintf("PersistentVolumeClaim/%s Warning ErrImportFailed %q x2 import-controller", writeClaimName(crashName), msg404),
		},
	})

	// The scheduler cannot place the importer.
	unschedName := prefix + "-block"
	var unschedStates []string
	var unschedEvents []string
	if populator {
		// recD.log 21:47:38 c-block; phase "" counts as population in
		// progress, so CDI warns (util.go, dvBoundOrPopulationInProgress).
		unschedStates = []string{state("None", "N/A", unschedName, "None", conds(p(unschedName), notReady, unsched))}
		unschedEvents = []string{fmt.Sprintf("DataVolume/%s Warning Unschedulable %q x1 %s", unschedName, "Importer pod cannot be scheduled", dvComponent)}
	} else {
		// recE.log 21:47:35 a-sc: the pod unschedulable, the DataVolume
		// unchanged: CDI's import controller leaves unbound claims alone.
		unschedStates = nil
	}
	cases = append(cases, simCase{
		name: unschedName, setup: setup, dv: urlDV,
		steps: []step{
			{do: start, dv: []string{startState(unschedName)}},
			{do: unschedulable, dv: unschedStates, objects: started(unschedName)},
		},
		events: append(unschedEvents,
			fmt.Sprintf("Pod/%s Warning FailedScheduling %q x1 default-scheduler", podName(unschedName), schedMsg)),
	})

	// A class that binds on first consumer.
	wffcName := prefix + "-wffc"
	wffcTarget := "PVC " + wffcName + " Pending Block 1073741824"
	var wffc simCase
	switch setup {
	case cdisim.SetupC:
		// recC.log 21:41:25 c-wffc: PendingPopulation, no prime claim, no
		// importer pod.
		wffc = simCase{steps: []step{{do: start,
			dv:      []string{state("PendingPopulation", "N/A", wffcName, "None", conds(p(wffcName), notReady, notRunning))},
			objects: []string{wffcTarget}}}}
	case cdisim.SetupB:
		// recB.log 21:40:45 b-wffc: "" with prime claim and importer pod.
		wffc = simCase{steps: []step{{do: start,
			dv:      []string{state("None", "N/A", wffcName, "None", conds(p(wffcName), notReady, notRunning))},
			objects: []string{"PVC prime-<uid> Pending Block 1073741824", wffcTarget, "POD importer-prime-<uid> Pending "}}}}
	case cdisim.SetupA:
		// recA.log 21:40:35 a-wffc: Pending, importer pod at once.
		wffc = simCase{steps: []step{{do: start,
			dv:      []string{state("Pending", "N/A", wffcName, "None", conds(p(wffcName), notReady, notRunning))},
			objects: []string{wffcTarget, "POD importer-" + wffcName + " Pending "}}}}
	case cdisim.SetupAGate:
		// recD.log 21:47:35 l-wffc: WaitForFirstConsumer, no importer pod.
		wffc = simCase{steps: []step{{do: start,
			dv:      []string{state("WaitForFirstConsumer", "N/A", wffcName, "None", conds(p(wffcName), notReady, notRunning))},
			objects: []string{wffcTarget}}}}
	}
	wffc.name, wffc.setup, wffc.dv = wffcName, setup, inClass("ceph-wffc", blankDV)
	cases = append(cases, wffc)

	if setup == cdisim.SetupC {
		// recC.log 21:41:25 c-wffcbind: --force-bind on the populator path
		// gives the prime claim and importer pod at once.
		n := "c-wffcbind"
		cases = append(cases, simCase{
			name: n, setup: setup, dv: forceBind(inClass("ceph-wffc", blankDV)),
			steps: []step{{do: start,
				dv:      []string{state("None", "N/A", n, "None", conds(p(n), notReady, notRunning))},
				objects: []string{"PVC " + n + " Pending Block 1073741824", "PVC prime-<uid> Pending Block 1073741824", "POD importer-prime-<uid> Pending "}}},
		})
	}

	// A class that does not exist: Pending, Filesystem inflated for
	// overhead, the PV controller's warning (recC.log 21:41:25 c-nosc,
	// recA.log 21:40:35 a-nosc, recB.log 21:40:45 b-nosc: importer pod only
	// without the gate).
	noscName := prefix + "-nosc"
	noscObjs := []string{"PVC " + noscName + " Pending Filesystem 1138166334"}
	if !gate {
		noscObjs = append(noscObjs, "POD importer-"+noscName+" Pending ")
	}
	cases = append(cases, simCase{
		name: noscName, setup: setup, dv: inClass("does-not-exist", blankDV),
		steps: []step{{do: start,
			dv:      []string{state("Pending", "N/A", noscName, "None", conds(p(noscName), notReady, notRunning))},
			objects: noscObjs}},
		events: []string{fmt.Sprintf("PersistentVolumeClaim/%s Warning ProvisioningFailed %q x1 persistentvolume-controller", noscName, `storageclass.storage.k8s.io "does-not-exist" not found`)},
	})

	// A lost claim: the one way CDI sets Failed on an import
	// (controller-base.go updateStatus, conditions.go ClaimLost).
	lostName := prefix + "-lost"
	cases = append(cases, simCase{
		name: lostName, setup: setup, dv: urlDV,
		steps: []step{
			{do: start, dv: []string{startState(lostName)}},
			{do: schedule, dv: []string{scheduledState(lostName)}},
			{do: loseClaim, dv: []string{state("Failed", "N/A", lostName, "None", conds("Bound=False/ClaimLost/Claim Lost", notReady, notRunning))}},
		},
		events: []string{
			fmt.Sprintf("DataVolume/%s Warning ErrClaimLost %q x1 %s", lostName, "PVC "+lostName+" lost", dvComponent),
			fmt.Sprintf("DataVolume/%s Normal ClaimLost \"Claim Lost\" x1 %s", lostName, dvComponent),
		},
	})
	return cases
}

// cloneCases are the clone cases of one set-up: a Filesystem source
// (golden) into a Block target, and a Block source (golden-blk).
func cloneCases(setup cdisim.Setup, prefix string) []simCase {
	populator := setup == cdisim.SetupC || setup == cdisim.SetupB
	clone, cloneblk := prefix+"-clone", prefix+"-cloneblk"
	succeeded := func(n string) string {
		// Not recorded: CDI's DataVolume controller on a bound target claim
		// (conditions.go) with the clone Succeeded.
		return state("Succeeded", "100.0%", n, "None", conds(bound(n), ready, notRunning))
	}
	comp := "datavolume-pvc-clone-controller"
	if !populator {
		// recA.log 21:40:32 a-clone: Pending, host-assisted, no populator.
		return []simCase{{
			name: clone, setup: setup, dv: cloneDV("golden"),
			steps: []step{
				{do: startClone, dv: []string{state("Pending", "N/A", clone, "None", conds(pending(clone), notReady, notRunning))},
					objects: []string{"PVC " + clone + " Pending Block 1073741824"}},
				{do: succeedClone, dv: []string{succeeded(clone)}, objects: []string{"PVC " + clone + " Bound Block 1073741824"}},
			},
			events: []string{
				fmt.Sprintf("PersistentVolumeClaim/%s Warning NoPopulator %q x1 %s", clone, "In tree storage class does not support snapshot/clone", comp),
				fmt.Sprintf("DataVolume/%s Normal CloneSucceeded %q x1 %s", clone, "Successfully cloned from sim-"+clone+"/golden into sim-"+clone+"/"+clone, comp),
			},
		}}
	}
	ns := "sim-" + clone
	cloneStates := []string{
		// recC.log 21:41:22 c-clone. (recB.log 21:40:42 b-clone was first
		// seen CloneInProgress: the 2 s recorder can miss CloneScheduled.)
		state("CloneScheduled", "N/A", clone, "None", conds(pending(clone), notReady, notRunning)),
		// recC.log 21:41:25 c-clone, recB.log 21:40:42 b-clone.
		state("CloneInProgress", "N/A", clone, "None", conds(pending(clone), notReady, "Running=False/Pending/Clone Pending")),
	}
	return []simCase{{
		name: clone, setup: setup, dv: cloneDV("golden"),
		steps: []step{
			{do: startClone, dv: cloneStates, objects: []string{"PVC " + clone + " Pending Block 1073741824", "PVC tmp-pvc-<uid> Pending Block 1073741824"}},
			{do: succeedClone, dv: []string{succeeded(clone)}, objects: []string{"PVC " + clone + " Bound Block 1073741824"}},
		},
		events: []string{
			fmt.Sprintf("DataVolume/%s Normal CloneScheduled %q x1 %s", clone, "Cloning from "+ns+"/golden into "+ns+"/"+clone+" scheduled", comp),
			fmt.Sprintf("DataVolume/%s Normal CloneInProgress %q x1 %s", clone, "Cloning from "+ns+"/golden into "+ns+"/"+clone+" in progress", comp),
			// CDI.md Clones: Warning IncompatibleVolumeModes.
			fmt.Sprintf("PersistentVolumeClaim/%s Warning IncompatibleVolumeModes %q x1 clone-populator", clone, "The volume modes of source and target are incompatible"),
			fmt.Sprintf("DataVolume/%s Normal CloneSucceeded %q x1 %s", clone, "Successfully cloned from "+ns+"/golden into "+ns+"/"+clone, comp),
		},
	}, {
		name: cloneblk, setup: setup, dv: cloneDV("golden-blk"),
		steps: []step{
			// recC.log 21:41:25 c-cloneblk.
			{do: startClone, dv: []string{state("CSICloneInProgress", "N/A", cloneblk, "None", conds(pending(cloneblk), transferring, "Running=True/Populator is running/"))}},
			{do: succeedClone, dv: []string{succeeded(cloneblk)}},
		},
		events: []string{
			fmt.Sprintf("DataVolume/%s Normal CSICloneInProgress %q x1 %s", cloneblk, "CSI Volume clone in progress (for pvc sim-"+cloneblk+"/golden-blk)", comp),
		},
	}}
}

// TestSequences drives each case of each set-up through its steps and
// compares what lands in the API server with the recordings.
func TestSequences(t *testing.T) {
	env := testenv.Require(t)
	cdi, err := cdiclient.NewForConfig(env.Config)
	must(t, err)
	for _, sc := range []struct {
		setup  cdisim.Setup
		prefix string
	}{{cdisim.SetupC, "c"}, {cdisim.SetupB, "b"}, {cdisim.SetupA, "a"}, {cdisim.SetupAGate, "l"}} {
		t.Run(sc.setup.String(), func(t *testing.T) {
			sim, err := cdisim.NewWith(env.Config, cdisim.Options{Setup: sc.setup})
			must(t, err)
			for _, c := range append(importCases(sc.setup, sc.prefix), cloneCases(sc.setup, sc.prefix)...) {
				c.run(t, env, cdi, sim)
			}
		})
	}
}

// golden creates the clone sources of the recordings: golden (Filesystem)
// and golden-blk (Block), both bound.
func golden(t *testing.T, env *testenv.Env, ns string) {
	t.Helper()
	for name, mode := range map[string]corev1.PersistentVolumeMode{"golden": corev1.PersistentVolumeFilesystem, "golden-blk": corev1.PersistentVolumeBlock} {
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				VolumeMode:  &mode,
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
		_, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), pvc, metav1.CreateOptions{})
		must(t, err)
		must(t, env.BindClaim(t.Context(), ns, name, resource.Quantity{}))
	}
}

// run drives the case in a namespace of its own, sim-<name>.
func (c simCase) run(t *testing.T, env *testenv.Env, cdi cdiclient.Interface, sim *cdisim.Sim) {
	t.Run(c.name, func(t *testing.T) {
		ctx := t.Context()
		ns := "sim-" + c.name
		_, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		must(t, err)
		golden(t, env, ns)
		dvs := cdi.CdiV1beta1().DataVolumes(ns)
		w, err := dvs.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + c.name})
		must(t, err)
		defer w.Stop()
		rec := &dvRecorder{w: w}
		dv := c.dv(c.name)
		dv.Namespace = ns
		_, err = dvs.Create(ctx, dv, metav1.CreateOptions{})
		must(t, err)
		for i, st := range c.steps {
			must(t, st.do(ctx, sim, ns, c.name))
			cur, err := dvs.Get(ctx, c.name, metav1.GetOptions{})
			must(t, err)
			got := rec.until(t, cur.ResourceVersion)
			if !slices.Equal(got, st.dv) {
				t.Errorf("step %d: data volume went\n\t%s\nwant\n\t%s", i, strings.Join(got, "\n\t"), strings.Join(st.dv, "\n\t"))
			}
			if st.objects == nil {
				continue
			}
			want := slices.Clone(st.objects)
			slices.Sort(want)
			if got := objects(t, env, ns); !slices.Equal(got, want) {
				t.Errorf("step %d: claims and pods\n\t%s\nwant\n\t%s", i, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
		}
		have := events(t, env, ns)
		for _, e := range c.events {
			if !slices.Contains(have, e) {
				t.Errorf("missing event %s; have\n\t%s", e, strings.Join(have, "\n\t"))
			}
		}
	})
}

// clock is a settable Options.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestHeartbeats checks that conditions move as CDI's conditions.go moves
// them: a new status moves the transition and the heartbeat, a new reason or
// message only the heartbeat, and a write that leaves a condition as it was
// moves neither. While the importer runs CDI resets Ready's reason to ""
// (from the phase, and on the populator path from the pending target claim)
// and sets TransferRunning again in the same write (controller-base.go
// updateConditions), so Ready's heartbeat moves with each write then.
func TestHeartbeats(t *testing.T) {
	env := testenv.Require(t)
	cdi, err := cdiclient.NewForConfig(env.Config)
	must(t, err)
	t0 := time.Date(2026, 12, 1, 21, 40, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for _, tc := range []struct {
		setup cdisim.Setup
		name  string
		// Per condition after Progress: transition and heartbeat minute.
		want map[cdiv1.DataVolumeConditionType][2]int
	}{
		{cdisim.SetupA, "hb-a", map[cdiv1.DataVolumeConditionType][2]int{
			cdiv1.DataVolumeBound:   {1, 1}, // bound at Schedule
			cdiv1.DataVolumeReady:   {0, 3}, // False since Start; moved by every write while running
			cdiv1.DataVolumeRunning: {2, 2}, // True at Run, untouched by Progress
		}},
		{cdisim.SetupC, "hb-c", map[cdiv1.DataVolumeConditionType][2]int{
			cdiv1.DataVolumeBound:   {0, 0}, // Pending throughout
			cdiv1.DataVolumeReady:   {0, 3}, // moved by every write while running
			cdiv1.DataVolumeRunning: {2, 2},
		}},
	} {
		t.Run(tc.setup.String(), func(t *testing.T) {
			ctx := t.Context()
			clk := &clock{t: at(0)}
			sim, err := cdisim.NewWith(env.Config, cdisim.Options{Setup: tc.setup, Now: clk.now})
			must(t, err)
			ns := testenv.DefaultNamespace
			dv := urlDV(tc.name)
			dv.Namespace = ns
			_, err = cdi.CdiV1beta1().DataVolumes(ns).Create(ctx, dv, metav1.CreateOptions{})
			must(t, err)
			must(t, sim.Start(ctx, ns, tc.name))
			clk.t = at(1)
			must(t, sim.Schedule(ctx, ns, tc.name))
			clk.t = at(2)
			must(t, sim.Run(ctx, ns, tc.name))
			clk.t = at(3)
			must(t, sim.Progress(ctx, ns, tc.name, 12.5))
			got, err := cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, tc.name, metav1.GetOptions{})
			must(t, err)
			if got.Status.Progress != "12.50%" {
				t.Errorf("progress %q, want 12.50%%", got.Status.Progress)
			}
			for _, c := range got.Status.Conditions {
				w := tc.want[c.Type]
				if !c.LastTransitionTime.Time.Equal(at(w[0])) || !c.LastHeartbeatTime.Time.Equal(at(w[1])) {
					t.Errorf("%s: transition %s heartbeat %s, want %s and %s", c.Type,
						c.LastTransitionTime.UTC().Format(time.TimeOnly), c.LastHeartbeatTime.UTC().Format(time.TimeOnly),
						at(w[0]).Format(time.TimeOnly), at(w[1]).Format(time.TimeOnly))
				}
			}
		})
	}
}

// TestEventCountUp checks that a repeated event counts up, with its last
// timestamp moving, as client-go's recorder does, and that events differing
// in message stay apart.
func TestEventCountUp(t *testing.T) {
	env := testenv.Require(t)
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 12, 1, 21, 44, 0, 0, time.UTC)}
	sim, err := cdisim.NewWith(env.Config, cdisim.Options{Now: clk.now})
	must(t, err)
	ns := "sim-events"
	_, err = env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must(t, err)
	for range 3 {
		must(t, sim.Event(ctx, ns, "PersistentVolumeClaim", "web", corev1.EventTypeWarning, "ProvisioningFailed", "no pool"))
		clk.t = clk.t.Add(time.Minute)
	}
	must(t, sim.Event(ctx, ns, "PersistentVolumeClaim", "web", corev1.EventTypeWarning, "ProvisioningFailed", "other"))
	list, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	must(t, err)
	counts := map[string]int32{}
	for _, e := range list.Items {
		counts[e.Message] = e.Count
		if e.Message == "no pool" && (!e.FirstTimestamp.Time.Equal(time.Date(2026, 12, 1, 21, 44, 0, 0, time.UTC)) ||
			!e.LastTimestamp.Time.Equal(time.Date(2026, 12, 1, 21, 46, 0, 0, time.UTC))) {
			t.Errorf("first %s last %s, want 21:44 and 21:46", e.FirstTimestamp, e.LastTimestamp)
		}
		if e.Source.Component != "persistentvolume-controller" {
			t.Errorf("source %q, want the PV controller", e.Source.Component)
		}
	}
	if counts["no pool"] != 3 || counts["other"] != 1 || len(list.Items) != 2 {
		t.Errorf("counts %v, want no pool x3 and other x1", counts)
	}
}

// TestObjects checks the objects CDI creates on the populator path as
// recorded (recC.log 21:41:22 c-url and prime-...; CDI.md Claims): the
// target claim named after the DataVolume, owned by it, its labels copied
// with CDI's, pointing at volume-import-source-<DV UID>; the prime claim
// owned by the target claim; the importer pod owned by the prime claim; and
// the pod's status after a crash loop as the kubelet writes it.
func TestObjects(t *testing.T) {
	env := testenv.Require(t)
	ctx := t.Context()
	cdi, err := cdiclient.NewForConfig(env.Config)
	must(t, err)
	sim, err := cdisim.New(env.Config)
	must(t, err)
	ns := "sim-objects"
	_, err = env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must(t, err)
	dv := urlDV("c-url")
	dv.Namespace = ns
	dv.Labels["otterscale.com/data-volume.boot-image"] = "true"
	dv.Spec.Storage.AccessModes = nil // the StorageProfile's: ReadWriteMany with Block
	created, err := cdi.CdiV1beta1().DataVolumes(ns).Create(ctx, dv, metav1.CreateOptions{})
	must(t, err)
	must(t, sim.Start(ctx, ns, "c-url"))

	target, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "c-url", metav1.GetOptions{})
	must(t, err)
	if o := target.OwnerReferences; len(o) != 1 || o[0].Kind != "DataVolume" || o[0].UID != created.UID || !*o[0].Controller {
		t.Errorf("target claim owners %v, want the DataVolume", o)
	}
	for k, v := range map[string]string{
		"app": "containerized-data-importer", "app.kubernetes.io/component": "storage",
		"app.kubernetes.io/managed-by": "cdi-controller", "otterscale.com/data-volume.boot-image": "true",
	} {
		if target.Labels[k] != v {
			t.Errorf("target claim label %s=%q, want %q", k, target.Labels[k], v)
		}
	}
	if target.Annotations["cdi.kubevirt.io/createdForDataVolume"] != string(created.UID) ||
		target.Annotations["cdi.kubevirt.io/storage.usePopulator"] != "true" {
		t.Errorf("target claim annotations %v", target.Annotations)
	}
	if r := target.Spec.DataSourceRef; r == nil || r.Kind != "VolumeImportSource" || r.Name != "volume-import-source-"+string(created.UID) {
		t.Errorf("target claim dataSourceRef %v", r)
	}
	if m := target.Spec.VolumeMode; m == nil || *m != corev1.PersistentVolumeBlock ||
		!slices.Equal(target.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}) {
		t.Errorf("target claim mode %v, access %v; want Block, ReadWriteMany", m, target.Spec.AccessModes)
	}
	got, err := cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "c-url", metav1.GetOptions{})
	must(t, err)
	if got.Annotations["cdi.kubevirt.io/storage.usePopulator"] != "true" {
		t.Errorf("data volume annotations %v, want usePopulator true", got.Annotations)
	}

	primeName := "prime-" + string(target.UID)
	prime, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, primeName, metav1.GetOptions{})
	must(t, err)
	if o := prime.OwnerReferences; len(o) != 1 || o[0].Kind != "PersistentVolumeClaim" || o[0].UID != target.UID {
		t.Errorf("prime claim owners %v, want the target claim", o)
	}
	if prime.Annotations["cdi.kubevirt.io/storage.import.endpoint"] != "https://example.com/disk.qcow2" ||
		prime.Annotations["cdi.kubevirt.io/storage.import.importPodName"] != "importer-"+primeName ||
		prime.Labels["velero.io/exclude-from-backup"] != "true" {
		t.Errorf("prime claim annotations %v labels %v", prime.Annotations, prime.Labels)
	}

	must(t, sim.Crash(ctx, ns, "c-url", msg404))
	must(t, sim.Crash(ctx, ns, "c-url", msg404))
	pod, err := env.Kube.CoreV1().Pods(ns).Get(ctx, "importer-"+primeName, metav1.GetOptions{})
	must(t, err)
	if o := pod.OwnerReferences; len(o) != 1 || o[0].Kind != "PersistentVolumeClaim" || o[0].UID != prime.UID || !*o[0].Controller {
		t.Errorf("importer pod owners %v, want the prime claim", o)
	}
	if pod.Status.Phase != corev1.PodRunning || pod.Spec.NodeName != "node1" || len(pod.Status.ContainerStatuses) != 1 {
		t.Fatalf("importer pod %s on %q, statuses %v", pod.Status.Phase, pod.Spec.NodeName, pod.Status.ContainerStatuses)
	}
	st := pod.Status.ContainerStatuses[0]
	if st.RestartCount != 2 || st.LastTerminationState.Terminated == nil || st.LastTerminationState.Terminated.Message != msg404 ||
		st.LastTerminationState.Terminated.ExitCode == 0 {
		t.Errorf("importer container %+v, want 2 restarts, last terminated with the 404", st)
	}
	if got, err = cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "c-url", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if got.Status.RestartCount != 2 || got.Status.Phase != cdiv1.ImportInProgress {
		t.Errorf("data volume %s with %d restarts, want ImportInProgress with 2", got.Status.Phase, got.Status.RestartCount)
	}
}
