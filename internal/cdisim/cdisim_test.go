package cdisim_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.Main(m, func(env *testenv.Env) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := env.CreateStorageClass(ctx, "ceph-block", true); err != nil {
			panic(err)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func condition(dv *cdiv1.DataVolume, typ cdiv1.DataVolumeConditionType) string {
	for _, c := range dv.Status.Conditions {
		if c.Type == typ {
			return string(c.Status) + " " + c.Reason
		}
	}
	return "missing"
}

// What a user of kubectl would see of an import the Sim drives: the
// DataVolume's status, its claim and the events, all in the API server.
func TestImport(t *testing.T) {
	env := testenv.Require(t)
	ctx := t.Context()
	ns := testenv.DefaultNamespace
	cdi, err := cdiclient.NewForConfig(env.Config)
	must(t, err)
	sim, err := cdisim.New(env.Config)
	must(t, err)
	dvs := cdi.CdiV1beta1().DataVolumes(ns)
	create := func(name string) {
		_, err := dvs.Create(ctx, &cdiv1.DataVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: cdiv1.DataVolumeSpec{
				Source: &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "https://example.com/disk.img"}},
				Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceStorage: resource.MustParse("2Gi"),
				}}},
			},
		}, metav1.CreateOptions{})
		must(t, err)
	}
	get := func(name string) *cdiv1.DataVolume {
		dv, err := dvs.Get(ctx, name, metav1.GetOptions{})
		must(t, err)
		return dv
	}

	create("web")
	must(t, sim.CreateClaim(ctx, ns, "web", "", true))
	dv := get("web")
	pvc, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "web", metav1.GetOptions{})
	must(t, err)
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		t.Errorf("claim %s, volume %q: want Bound to a volume", pvc.Status.Phase, pvc.Spec.VolumeName)
	}
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "2Gi" || deref(pvc.Spec.StorageClassName) != "ceph-block" {
		t.Errorf("claim requests %s in %q, want 2Gi in the default class", q.String(), deref(pvc.Spec.StorageClassName))
	}
	if refs := pvc.OwnerReferences; len(refs) != 1 || refs[0].Kind != "DataVolume" || refs[0].UID != dv.UID || !*refs[0].Controller {
		t.Errorf("owner references %v, want the DataVolume as controller", refs)
	}
	if dv.Status.Phase != cdiv1.Pending || dv.Status.ClaimName != "web" || condition(dv, cdiv1.DataVolumeBound) != "True Bound" {
		t.Errorf("after CreateClaim: phase %s, claim %q, Bound %s", dv.Status.Phase, dv.Status.ClaimName, condition(dv, cdiv1.DataVolumeBound))
	}
	if len(dv.Status.Conditions) != 3 {
		t.Errorf("conditions %v, want Bound, Running, Ready", dv.Status.Conditions)
	}

	must(t, sim.SetPhase(ctx, ns, "web", cdiv1.ImportScheduled, "N/A"))
	must(t, sim.Progress(ctx, ns, "web", 45.671))
	dv = get("web")
	if dv.Status.Phase != cdiv1.ImportInProgress || dv.Status.Progress != "45.67%" ||
		condition(dv, cdiv1.DataVolumeRunning) != "True TransferRunning" || condition(dv, cdiv1.DataVolumeReady) != "False TransferRunning" {
		t.Errorf("after Progress: %s %s Running %s Ready %s", dv.Status.Phase, dv.Status.Progress,
			condition(dv, cdiv1.DataVolumeRunning), condition(dv, cdiv1.DataVolumeReady))
	}

	must(t, sim.Restart(ctx, ns, "web"))
	must(t, sim.Restart(ctx, ns, "web"))
	dv = get("web")
	if dv.Status.RestartCount != 2 || condition(dv, cdiv1.DataVolumeRunning) != "False CrashLoopBackOff" {
		t.Errorf("after two restarts: count %d, Running %s", dv.Status.RestartCount, condition(dv, cdiv1.DataVolumeRunning))
	}
	events, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "importer-web").String(),
	})
	must(t, err)
	if len(events.Items) != 1 || events.Items[0].Count != 2 || events.Items[0].Reason != "BackOff" ||
		events.Items[0].Type != corev1.EventTypeWarning || events.Items[0].InvolvedObject.Kind != "Pod" {
		t.Errorf("importer events %+v, want one Warning BackOff on the pod counted twice", events.Items)
	}

	must(t, sim.Succeed(ctx, ns, "web"))
	dv = get("web")
	if dv.Status.Phase != cdiv1.Succeeded || dv.Status.Progress != "100.0%" ||
		condition(dv, cdiv1.DataVolumeRunning) != "False Completed" || condition(dv, cdiv1.DataVolumeReady) != "True " {
		t.Errorf("after Succeed: %s %s Running %s Ready %s", dv.Status.Phase, dv.Status.Progress,
			condition(dv, cdiv1.DataVolumeRunning), condition(dv, cdiv1.DataVolumeReady))
	}

	create("bad")
	must(t, sim.CreateClaim(ctx, ns, "bad", "", false))
	must(t, sim.Event(ctx, ns, "PersistentVolumeClaim", "bad", corev1.EventTypeWarning, "ProvisioningFailed", "no pool"))
	must(t, sim.Fail(ctx, ns, "bad", "", "Unable to connect to http data source"))
	dv = get("bad")
	if dv.Status.Phase != cdiv1.Failed || condition(dv, cdiv1.DataVolumeRunning) != "False ImportFailed" || condition(dv, cdiv1.DataVolumeBound) != "False Pending" {
		t.Errorf("after Fail: %s Running %s Bound %s", dv.Status.Phase, condition(dv, cdiv1.DataVolumeRunning), condition(dv, cdiv1.DataVolumeBound))
	}
	events, err = env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "bad").String(),
	})
	must(t, err)
	got := map[string]string{}
	for _, e := range events.Items {
		got[e.InvolvedObject.Kind] = e.Reason
		if e.InvolvedObject.UID == "" {
			t.Errorf("event %s has no involved object UID", e.Name)
		}
	}
	if got["PersistentVolumeClaim"] != "ProvisioningFailed" || got["DataVolume"] != "ImportFailed" {
		t.Errorf("events about bad: %v", got)
	}

	create("late")
	must(t, sim.WaitForFirstConsumer(ctx, ns, "late"))
	if dv = get("late"); dv.Status.Phase != cdiv1.WaitForFirstConsumer || condition(dv, cdiv1.DataVolumeBound) != "False WaitForFirstConsumer" {
		t.Errorf("WaitForFirstConsumer: %s Bound %s", dv.Status.Phase, condition(dv, cdiv1.DataVolumeBound))
	}
	must(t, sim.PendingPopulation(ctx, ns, "late"))
	if dv = get("late"); dv.Status.Phase != cdiv1.PendingPopulation || condition(dv, cdiv1.DataVolumeBound) != "False PendingPopulation" {
		t.Errorf("PendingPopulation: %s Bound %s", dv.Status.Phase, condition(dv, cdiv1.DataVolumeBound))
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
