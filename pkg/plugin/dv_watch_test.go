package plugin

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// Off a terminal, a repeated event prints once: CDI repeats a failing
// import's ErrImportFailed every few seconds (x2 ... x17 in 75 s observed),
// and Kubernetes counts the same Event up each time.
func TestWatchPlainPrintsARepeatedEventOnce(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	dv := &instancev1.DataVolume{Name: "web", Namespace: "vms", Phase: "ImportInProgress", Progress: "N/A", RestartCount: 1}
	failed := func(n int32) *instancev1.WatchDataVolumesResponse {
		return &instancev1.WatchDataVolumesResponse{Type: instancev1.WatchDataVolumesResponse_EVENT, Event: &instancev1.Event{
			Type: "Warning", Reason: "ErrImportFailed", DataVolume: "web", Namespace: "vms", Object: "PersistentVolumeClaim/prime-0a1b",
			Message: "Unable to connect to http data source: expected status code 200, got 404", Count: n,
			LastSeenAt: timestamppb.New(t0.Add(time.Duration(n) * 5 * time.Second)),
		}}
	}
	ch := make(chan *instancev1.WatchDataVolumesResponse, 40)
	ch <- &instancev1.WatchDataVolumesResponse{Type: instancev1.WatchDataVolumesResponse_ADDED, DataVolume: dv}
	for n := int32(1); n <= 17; n++ {
		ch <- failed(n)
	}
	// The same reason on another object is another event.
	ch <- &instancev1.WatchDataVolumesResponse{Type: instancev1.WatchDataVolumesResponse_EVENT, Event: &instancev1.Event{
		Type: "Warning", Reason: "Error", DataVolume: "web", Namespace: "vms", Object: "DataVolume/web",
		Message: "Unable to connect to http data source: expected status code 200, got 404", Count: 3,
	}}
	// Deleted and made again: the new DataVolume's events are its own.
	ch <- &instancev1.WatchDataVolumesResponse{Type: instancev1.WatchDataVolumesResponse_DELETED, DataVolume: dv}
	ch <- failed(1)
	ch <- failed(2)
	close(ch)

	var out bytes.Buffer
	if err := watchPlain(t.Context(), &out, ch, false, false); err != nil {
		t.Fatal(err)
	}
	want := "web  ImportInProgress  N/A  -  restarts=1\n" +
		"web  Warning  ErrImportFailed  Unable to connect to http data source: expected status code 200, got 404\n" +
		"web  Warning  Error  Unable to connect to http data source: expected status code 200, got 404 (x3)\n" +
		"web  deleted\n" +
		"web  Warning  ErrImportFailed  Unable to connect to http data source: expected status code 200, got 404\n"
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
}
