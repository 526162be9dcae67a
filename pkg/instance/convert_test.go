package instance

import (
	"testing"

	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// The importer and what the import is doing, read from the target claim as
// real CDI v1.63.1 leaves it (cdi-observed: recC.log 21:41:22 PVC c-url on
// the populator path, recA.log PVC a-url on the older path).
func TestImporterFromTheClaim(t *testing.T) {
	group := "cdi.kubevirt.io"
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "c-url", Namespace: "vms"}, Status: cdiv1.DataVolumeStatus{
		ClaimName: "c-url", Progress: "N/A",
		Conditions: []cdiv1.DataVolumeCondition{
			{Type: cdiv1.DataVolumeBound, Status: corev1.ConditionFalse, Reason: "Pending", Message: "PVC c-url Pending"},
			{Type: cdiv1.DataVolumeReady, Status: corev1.ConditionFalse},
			{Type: cdiv1.DataVolumeRunning, Status: corev1.ConditionFalse},
		},
	}}
	populator := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "c-url", Namespace: "vms", UID: "f45b8ca4-5069-40e5-9ef3-8d1ba640c92d",
			Annotations: map[string]string{"cdi.kubevirt.io/storage.pod.phase": "Pending", "cdi.kubevirt.io/storage.usePopulator": "true"}},
		Spec: corev1.PersistentVolumeClaimSpec{DataSourceRef: &corev1.TypedObjectReference{
			APIGroup: &group, Kind: "VolumeImportSource", Name: "volume-import-source-2b655f40-b0e2-4c9f-a53f-7a7086d5df14"}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	older := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "a-url", Namespace: "vms", Annotations: map[string]string{
			"cdi.kubevirt.io/storage.import.importPodName": "importer-a-url", "cdi.kubevirt.io/storage.pod.phase": "Pending"}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	for _, tt := range []struct {
		name     string
		pvc      *corev1.PersistentVolumeClaim
		importer *instancev1.DataVolume_Importer
		status   *instancev1.DataVolume_ImportStatus
	}{
		{"populator", populator,
			&instancev1.DataVolume_Importer{Pod: "importer-prime-f45b8ca4-5069-40e5-9ef3-8d1ba640c92d", PodPhase: "Pending", PrimeClaim: "prime-f45b8ca4-5069-40e5-9ef3-8d1ba640c92d"},
			&instancev1.DataVolume_ImportStatus{Phase: "Pending", Reason: "Pending",
				Message: "waiting for claim prime-f45b8ca4-5069-40e5-9ef3-8d1ba640c92d to bind; CDI imports into it, then hands its volume to the DataVolume's claim"}},
		{"older", older,
			&instancev1.DataVolume_Importer{Pod: "importer-a-url", PodPhase: "Pending"},
			&instancev1.DataVolume_ImportStatus{Phase: "Pending", Reason: "Pending", Message: "importer pod importer-a-url is Pending"}},
		{"no claim yet", nil, nil, &instancev1.DataVolume_ImportStatus{Phase: "Pending", Reason: "Pending", Message: "PVC c-url Pending"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			msg := toDataVolume(dv, tt.pvc, nil)
			if !proto.Equal(msg.GetImporter(), tt.importer) {
				t.Errorf("importer = %v, want %v", msg.GetImporter(), tt.importer)
			}
			if !proto.Equal(msg.GetImportStatus(), tt.status) {
				t.Errorf("import status = %v, want %v", msg.GetImportStatus(), tt.status)
			}
		})
	}
}
