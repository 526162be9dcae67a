package follow

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	applicationv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/application/v1"
	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

var testNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func ts(ago time.Duration) *timestamppb.Timestamp { return timestamppb.New(testNow.Add(-ago)) }

// The states below are real CDI v1.63.1's, from the recordings in the
// repository's shared cdi-observed/ (file, time and DataVolume named).

// populator is a DataVolume on CDI's populator path (set-up C) as CDI first
// writes it: no phase, the target claim Pending (recC.log 21:41:22 c-url).
func populator(phase string) *instancev1.DataVolume {
	return &instancev1.DataVolume{
		Name: "c-url", Namespace: "vms", Phase: phase, Progress: "N/A", CreatedAt: ts(10 * time.Minute),
		PersistentVolumeClaim: &applicationv1.Application_PersistentVolumeClaim{Name: "c-url", Status: "Pending", VolumeMode: "Block"},
		Conditions: []*instancev1.DataVolume_Condition{
			{Type: "Bound", Status: "False", Reason: "Pending", Message: "PVC c-url Pending", HeartbeatAt: ts(10 * time.Minute)},
			{Type: "Ready", Status: "False", HeartbeatAt: ts(10 * time.Minute)},
			{Type: "Running", Status: "False", HeartbeatAt: ts(10 * time.Minute)},
		},
	}
}

func withRunning(dv *instancev1.DataVolume, status, reason, message string, ago time.Duration) *instancev1.DataVolume {
	dv.Conditions[2] = &instancev1.DataVolume_Condition{Type: "Running", Status: status, Reason: reason, Message: message, HeartbeatAt: ts(ago)}
	return dv
}

// running: recC.log 21:43:57 c-url.
func running() *instancev1.DataVolume {
	dv := withRunning(populator("ImportInProgress"), "True", "Pod is running", "", 2*time.Minute)
	dv.Conditions[1].Reason = "TransferRunning"
	return dv
}

// crashed: the importer exited on a 404 (recC.log 21:44:36 c-url).
func crashed(restarts int32, message string) *instancev1.DataVolume {
	dv := withRunning(populator("ImportInProgress"), "False", "Error", message, time.Minute)
	dv.RestartCount = restarts
	return dv
}

const notFound = "Unable to connect to http data source: expected status code 200, got 404. Status: 404 Not Found"

func TestPermanent(t *testing.T) {
	for msg, want := range map[string]bool{
		notFound: true,
		"Unable to connect to http data source: expected status code 200, got 403. Status: 403 Forbidden":                true,
		"Unable to connect to http data source: expected status code 200, got 401. Status: 401 Unauthorized":             true,
		"Unable to connect to http data source: expected status code 200, got 429. Status: 429 Too Many Requests":        false,
		"Unable to connect to http data source: expected status code 200, got 408. Status: 408 Request Timeout":          false,
		"Unable to connect to http data source: expected status code 200, got 503. Status: 503 Service Unavailable":      false,
		"Unable to connect to http data source: HTTP request errored: dial tcp 10.0.0.1:80: connect: connection refused": false,
		"": false,
	} {
		if got := Permanent(msg); got != want {
			t.Errorf("Permanent(%q) = %v, want %v", msg, got, want)
		}
	}
}

func TestDecide(t *testing.T) {
	const refused = "Unable to connect to http data source: HTTP request errored: dial tcp 10.0.0.1:80: connect: connection refused"
	ev := func(reason, object, message string, ago time.Duration) *instancev1.Event {
		return &instancev1.Event{Type: "Warning", Reason: reason, DataVolume: "c-url", Namespace: "vms", Object: object, Message: message, Count: 1, LastSeenAt: ts(ago)}
	}
	provisioningFailed := ev("ProvisioningFailed", "PersistentVolumeClaim/c-url", `storageclass.storage.k8s.io "does-not-exist" not found`, time.Minute)
	stale := ev("ProvisioningFailed", "PersistentVolumeClaim/c-url", "from a DataVolume of the same name deleted an hour ago", time.Hour)
	errImportFailed := ev("ErrImportFailed", "PersistentVolumeClaim/prime-1", refused, time.Minute)
	failedScheduling := ev("FailedScheduling", "Pod/importer-prime-1", "0/1 nodes are available: 1 Insufficient memory.", time.Minute)
	lost := populator("Failed")
	lost.Conditions[0] = &instancev1.DataVolume_Condition{Type: "Bound", Status: "False", Reason: "ClaimLost", Message: "PVC c-url lost"}
	unschedulable := func(ago time.Duration) *instancev1.DataVolume {
		return withRunning(populator(""), "False", "Unschedulable", "Importer pod cannot be scheduled", ago)
	}
	rules := Rules{MaxRestarts: 3, UnschedulableGrace: time.Minute}

	tests := []struct {
		name   string
		dv     *instancev1.DataVolume
		events []*instancev1.Event
		want   Result // Outcome Waiting: not over
	}{
		{"nothing yet", nil, nil, Result{}},
		{"populator path, no phase yet", populator(""), nil, Result{}},
		{"pending", populator("Pending"), nil, Result{}},
		{"scheduled", populator("ImportScheduled"), nil, Result{}},
		{"running", running(), nil, Result{}},
		{"succeeded", withRunning(populator("Succeeded"), "False", "Completed", "Import Complete", 0), nil,
			Result{Outcome: Succeeded, Reason: "Succeeded"}},
		{"succeeded despite an old warning", withRunning(populator("Succeeded"), "False", "Completed", "Import Complete", 0), []*instancev1.Event{provisioningFailed},
			Result{Outcome: Succeeded, Reason: "Succeeded"}},
		{"phase Failed (lost claim)", lost, nil, Result{Outcome: Failed, Reason: "ClaimLost", Message: "PVC c-url lost"}},
		// recC.log 21:44:10 c-url: restartCount 1, Running False with the
		// stale reason; not over until the importer's words arrive.
		{"crashed, stale reason", withRunning(crashed(1, ""), "False", "Pod is running", "", 0), nil, Result{}},
		{"404: over at once", crashed(1, notFound), nil,
			Result{Outcome: Failed, Reason: "Error", Message: notFound, Restarts: 1, Hint: HintSource}},
		{"connection refused: retried", crashed(3, refused), nil, Result{}},
		{"connection refused past max restarts", crashed(4, refused), nil,
			Result{Outcome: Failed, Reason: "Error", Message: refused, Restarts: 4, Hint: HintRestarts}},
		{"past max restarts while running again: the last error event", withRunning(crashed(4, ""), "True", "Pod is running", "", 0), []*instancev1.Event{errImportFailed},
			Result{Outcome: Failed, Reason: "ErrImportFailed", Message: refused, Restarts: 4, Hint: HintRestarts}},
		{"unschedulable within the grace", unschedulable(30 * time.Second), []*instancev1.Event{failedScheduling}, Result{}},
		{"unschedulable past the grace", unschedulable(2 * time.Minute), []*instancev1.Event{failedScheduling},
			Result{Outcome: Blocked, Reason: "Unschedulable", Message: "0/1 nodes are available: 1 Insufficient memory.", Hint: HintUnschedulable}},
		{"unschedulable past the grace, no event", unschedulable(2 * time.Minute), nil,
			Result{Outcome: Blocked, Reason: "Unschedulable", Message: "Importer pod cannot be scheduled", Hint: HintUnschedulable}},
		// recC.log 21:41:25 c-wffc; recE.log (older path with the gate).
		{"pending population", populator("PendingPopulation"), nil, Result{Outcome: Blocked, Reason: "PendingPopulation", Hint: HintPendingPopulation}},
		{"wait for first consumer", populator("WaitForFirstConsumer"), nil, Result{Outcome: Blocked, Reason: "WaitForFirstConsumer", Hint: HintFirstConsumer}},
		// CDI.md: a class that does not exist: Pending, and only the PV
		// controller's event says why.
		{"provisioning failed", populator("Pending"), []*instancev1.Event{provisioningFailed},
			Result{Outcome: Blocked, Reason: "ProvisioningFailed", Message: `storageclass.storage.k8s.io "does-not-exist" not found`}},
		{"event older than the DataVolume", populator("Pending"), []*instancev1.Event{stale}, Result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, got := rules.Decide(tt.dv, tt.events, testNow)
			if done != (tt.want.Outcome != Waiting) || got != tt.want {
				t.Errorf("Decide = %v, %+v; want %+v", done, got, tt.want)
			}
		})
	}
}

func TestMaxRestartsZero(t *testing.T) {
	r := Rules{MaxRestarts: 0, UnschedulableGrace: time.Minute}
	if done, _ := r.Decide(running(), nil, testNow); done {
		t.Error("a running import with no restarts is over")
	}
	if done, res := r.Decide(crashed(1, "transient"), nil, testNow); !done || res.Outcome != Failed || res.Restarts != 1 {
		t.Errorf("--max-restarts 0 after one restart: %v %+v", done, res)
	}
}

func TestDescribe(t *testing.T) {
	for _, tt := range []struct {
		name string
		dv   *instancev1.DataVolume
		want *instancev1.DataVolume_ImportStatus
	}{
		{"no phase yet reads as Pending, with CDI's reason", populator(""), &instancev1.DataVolume_ImportStatus{Phase: "Pending", Reason: "Pending", Message: "PVC c-url Pending"}},
		{"populator path: the prime claim binds first", withImporter(populator(""), "importer-prime-1", "Pending", "prime-1"), &instancev1.DataVolume_ImportStatus{
			Phase: "Pending", Reason: "Pending", Message: "waiting for claim prime-1 to bind; CDI imports into it, then hands its volume to the DataVolume's claim"}},
		{"populator path: scheduled, the importer pod pending", withImporter(populator("ImportScheduled"), "importer-prime-1", "Pending", "prime-1"), &instancev1.DataVolume_ImportStatus{
			Phase: "ImportScheduled", Reason: "Pending", Message: "importer pod importer-prime-1 is Pending"}},
		{"older path: the importer pod pending", withImporter(populator("Pending"), "importer-c-url", "Pending", ""), &instancev1.DataVolume_ImportStatus{
			Phase: "Pending", Reason: "Pending", Message: "importer pod importer-c-url is Pending"}},
		{"running", running(), &instancev1.DataVolume_ImportStatus{Phase: "ImportInProgress", Reason: "Pod is running"}},
		{"crashed", crashed(2, notFound), &instancev1.DataVolume_ImportStatus{Phase: "ImportInProgress", Reason: "Error", Message: notFound}},
		{"unschedulable: the scheduler's words", unschedulableNow(), &instancev1.DataVolume_ImportStatus{Phase: "Pending", Reason: "Unschedulable", Message: "Importer pod cannot be scheduled"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Describe(tt.dv, nil); !proto.Equal(got, tt.want) {
				t.Errorf("Describe = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWaitFollowsOneDataVolume(t *testing.T) {
	w := NewWait("vms", "c-url", Rules{MaxRestarts: 5, UnschedulableGrace: time.Minute})
	send := func(r *instancev1.WatchDataVolumesResponse) (Result, bool) {
		res, done, _ := w.Apply(r, testNow)
		return res, done
	}
	other := populator("Succeeded")
	other.Name = "other"
	if _, done := send(&instancev1.WatchDataVolumesResponse{Type: instancev1.WatchDataVolumesResponse_ADDED, DataVolume: other}); done {
		t.Fatal("another DataVolume ended the wait")
	}
	if _, done := send(&instancev1.WatchDataVolumesResponse{Type: instancev1.WatchDataVolumesResponse_ADDED, DataVolume: unschedulableNow()}); done {
		t.Fatal("over before the grace")
	}
	if res, done := w.Check(testNow.Add(2 * time.Minute)); !done || res.Outcome != Blocked {
		t.Fatalf("Check after the grace = %v %+v", done, res)
	}
	// A repeated event counts up in place.
	ev := &instancev1.Event{Type: "Warning", Reason: "ErrImportFailed", DataVolume: "c-url", Namespace: "vms", Object: "PersistentVolumeClaim/prime-1", Message: "m", Count: 1}
	for i := int32(1); i <= 3; i++ {
		up := proto.CloneOf(ev)
		up.Count = i
		send(&instancev1.WatchDataVolumesResponse{Type: instancev1.WatchDataVolumesResponse_EVENT, Event: up})
	}
	if len(w.Events) != 1 || w.Events[0].GetCount() != 3 {
		t.Errorf("events after three count-ups = %v", w.Events)
	}
	if res, done := send(&instancev1.WatchDataVolumesResponse{Type: instancev1.WatchDataVolumesResponse_DELETED, DataVolume: populator("")}); !done || res.Outcome != Deleted {
		t.Errorf("deletion = %v %+v", done, res)
	}
}

func withImporter(dv *instancev1.DataVolume, pod, podPhase, prime string) *instancev1.DataVolume {
	dv.Importer = &instancev1.DataVolume_Importer{Pod: pod, PodPhase: podPhase, PrimeClaim: prime}
	return dv
}

func unschedulableNow() *instancev1.DataVolume {
	return withRunning(populator(""), "False", "Unschedulable", "Importer pod cannot be scheduled", 0)
}

func TestResultString(t *testing.T) {
	r := Result{Outcome: Failed, Reason: "Error", Message: notFound, Restarts: 3}
	if got := r.String(); !strings.HasPrefix(got, "Failed: Error: Unable to connect") || !strings.HasSuffix(got, "(importer 3 restarts)") {
		t.Errorf("String = %q", got)
	}
	if got := (Result{Outcome: Succeeded, Reason: "Succeeded"}).String(); got != "Succeeded" {
		t.Errorf("String = %q", got)
	}
}
