package instance_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/instance"
)

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.WithStorageClass(testenv.StorageClass, true), testenv.WithStorageClass("fixed", false),
		testenv.WithSetup(func(ctx context.Context, env *testenv.Env) error {
			// A class that cannot grow, for ExtendDataVolume's refusal.
			sc, err := env.Kube.StorageV1().StorageClasses().Get(ctx, "fixed", metav1.GetOptions{})
			if err != nil {
				return err
			}
			sc.AllowVolumeExpansion = new(false)
			_, err = env.Kube.StorageV1().StorageClasses().Update(ctx, sc, metav1.UpdateOptions{})
			return err
		}))
}

// fixture is one test's view of the environment: the real kubeconfig
// provider (scopes are its contexts), the service over it, a CDI client to
// check results with, and a namespace of the test's own.
type fixture struct {
	env *testenv.Env
	svc *instance.Service
	cdi cdiclient.Interface
	ns  string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := testenv.NewFixture(t)
	return &fixture{env: f.Env, svc: instance.New(f.Provider("")), cdi: f.CDI, ns: f.Namespace}
}

// dataVolumes lists what the API server holds in the test's namespace.
func (f *fixture) dataVolumes(t *testing.T) []cdiv1.DataVolume {
	t.Helper()
	list, err := f.cdi.CdiV1beta1().DataVolumes(f.ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// claim creates a claim as a user or CDI would.
func (f *fixture) claim(t *testing.T, ns, name, class, size string) {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse(size),
			}},
		},
	}
	if class != "" {
		pvc.Spec.StorageClassName = &class
	}
	if _, err := f.env.Kube.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// actAsCDI does what CDI's controller does for a DataVolume that imports:
// creates its claim, has it bound, and reports progress and conditions
// through the status subresource.
func (f *fixture) actAsCDI(t *testing.T, name, class string, bind bool) {
	t.Helper()
	dv, err := f.cdi.CdiV1beta1().DataVolumes(f.ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	size := dv.Spec.Storage.Resources.Requests[corev1.ResourceStorage]
	f.claim(t, f.ns, name, class, size.String())
	if bind {
		if err := f.env.BindClaim(t.Context(), f.ns, name, resource.Quantity{}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	t1 := metav1.NewTime(t0.Add(30 * time.Second))
	dv.Status = cdiv1.DataVolumeStatus{
		ClaimName:    name,
		Phase:        cdiv1.ImportInProgress,
		Progress:     "45.67%",
		RestartCount: 2,
		Conditions: []cdiv1.DataVolumeCondition{
			{Type: cdiv1.DataVolumeBound, Status: corev1.ConditionTrue, Reason: "Bound", Message: "PVC " + name + " Bound", LastTransitionTime: t0, LastHeartbeatTime: t1},
			{Type: cdiv1.DataVolumeRunning, Status: corev1.ConditionTrue, Reason: "Pod is running", LastTransitionTime: t1, LastHeartbeatTime: t1},
			{Type: cdiv1.DataVolumeReady, Status: corev1.ConditionFalse, Reason: "TransferRunning", LastTransitionTime: t0, LastHeartbeatTime: t1},
		},
	}
	if _, err := f.cdi.CdiV1beta1().DataVolumes(f.ns).UpdateStatus(t.Context(), dv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v, got success", code)
	}
	if got := connect.CodeOf(err); got != code {
		t.Fatalf("want %v, got %v: %v", code, got, err)
	}
}

func message(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}
