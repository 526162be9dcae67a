package instance

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	cdifake "kubevirt.io/client-go/containerizeddataimporter/fake"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// What a relist after an expired resourceVersion sends: exactly the
// difference from what was sent before, never the unchanged state again. A
// narrow test over fake clients, since a real API server cannot be made to
// expire a watch on demand; the restart test covers the real thing.
func TestRelistSendsOnlyChanges(t *testing.T) {
	ctx := t.Context()
	dv := func(name string, phase cdiv1.DataVolumePhase, progress string) *cdiv1.DataVolume {
		return &cdiv1.DataVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
			Status:     cdiv1.DataVolumeStatus{Phase: phase, Progress: cdiv1.DataVolumeProgress(progress)},
		}
	}
	claim := func(name string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
			Status:     corev1.PersistentVolumeClaimStatus{Phase: phase},
		}
	}
	cdi := cdifake.NewSimpleClientset(
		dv("same", cdiv1.ImportInProgress, "10.00%"),
		dv("changes", cdiv1.ImportInProgress, "10.00%"),
		dv("goes", cdiv1.Pending, "N/A"),
	)
	kube := k8sfake.NewClientset(claim("same", corev1.ClaimBound), claim("changes", corev1.ClaimPending))
	w, err := newWatcher(&instancev1.WatchDataVolumesRequest{Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	w.c = &cluster.Clients{Core: kube.CoreV1(), Storage: kube.StorageV1(), CDI: cdi}
	out := make(chan *instancev1.WatchDataVolumesResponse, 100)
	w.out = out
	res, err := w.start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.sendInitial(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := drain(out), "ADDED changes 10.00% Pending, ADDED goes N/A -, ADDED same 10.00% Bound, SYNCED"; got != want {
		t.Fatalf("opening = %s\nwant      %s", got, want)
	}

	// Nothing changed: a relist sends nothing.
	for _, r := range res {
		if _, err := r.relist(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := drain(out); got != "" {
		t.Errorf("relist without changes sent %s", got)
	}

	// Changes made while no watch was open.
	dvs := cdi.CdiV1beta1().DataVolumes("ns")
	must(t, dvs.Delete(ctx, "goes", metav1.DeleteOptions{}))
	_, err = dvs.UpdateStatus(ctx, dv("changes", cdiv1.Succeeded, "100.0%"), metav1.UpdateOptions{})
	must(t, err)
	_, err = dvs.Create(ctx, dv("new", cdiv1.Pending, "N/A"), metav1.CreateOptions{})
	must(t, err)
	_, err = kube.CoreV1().PersistentVolumeClaims("ns").UpdateStatus(ctx, claim("changes", corev1.ClaimBound), metav1.UpdateOptions{})
	must(t, err)
	for _, r := range res {
		if _, err := r.relist(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := drain(out), "MODIFIED changes 100.0% Pending, ADDED new N/A -, DELETED goes N/A -, MODIFIED changes 100.0% Bound"; got != want {
		t.Errorf("relist sent %s\nwant        %s", got, want)
	}
	for _, r := range res {
		if _, err := r.relist(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := drain(out); got != "" {
		t.Errorf("second relist sent %s", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func drain(ch chan *instancev1.WatchDataVolumesResponse) string {
	var parts []string
	for {
		select {
		case m := <-ch:
			s := m.GetType().String()
			if dv := m.GetDataVolume(); dv != nil {
				claim := dv.GetPersistentVolumeClaim().GetStatus()
				if claim == "" {
					claim = "-"
				}
				s += fmt.Sprintf(" %s %s %s", dv.GetName(), dv.GetProgress(), claim)
			}
			parts = append(parts, s)
		default:
			return strings.Join(parts, ", ")
		}
	}
}
