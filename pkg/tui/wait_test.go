package tui

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

func TestClassify(t *testing.T) {
	failed := withPhase(importing("vms", "dv1", "12.00%"), "Failed", "12.00%")
	failed.Conditions[1] = &instancev1.DataVolume_Condition{Type: "Running", Status: "False", Reason: "ImportFailed", Message: "Unable to connect to http data source: expected status code 200, got 404"}
	provisioningFailed := &instancev1.Event{
		Type: "Warning", Reason: "ProvisioningFailed", DataVolume: "dv1", Namespace: "vms", Object: "PersistentVolumeClaim/dv1",
		Message: `storageclass.storage.k8s.io "fast" not found`, LastSeenAt: ts(time.Minute),
	}
	claimNotValid := &instancev1.Event{
		Type: "Warning", Reason: "ErrClaimNotValid", DataVolume: "dv1", Namespace: "vms",
		Message: "DataVolume.storage spec is missing accessMode and volumeMode", LastSeenAt: ts(time.Minute),
	}
	stale := &instancev1.Event{
		Type: "Warning", Reason: "ProvisioningFailed", DataVolume: "dv1", Namespace: "vms",
		Message: "from a DataVolume of the same name deleted an hour ago", LastSeenAt: ts(time.Hour),
	}
	normal := &instancev1.Event{Type: "Normal", Reason: "ImportScheduled", DataVolume: "dv1", Namespace: "vms", LastSeenAt: ts(time.Minute)}

	tests := []struct {
		name   string
		dv     *instancev1.DataVolume
		events []*instancev1.Event
		done   bool
		want   WaitResult
	}{
		{"nothing yet", nil, nil, false, WaitResult{}},
		{"importing", importing("vms", "dv1", "45.67%"), nil, false, WaitResult{}},
		{"importing with normal events", importing("vms", "dv1", "45.67%"), []*instancev1.Event{normal}, false, WaitResult{}},
		{"succeeded", withPhase(importing("vms", "dv1", "100.0%"), "Succeeded", "100.0%"), nil, true,
			WaitResult{Outcome: Succeeded, Reason: "Succeeded"}},
		{"succeeded despite an old warning", withPhase(importing("vms", "dv1", "100.0%"), "Succeeded", "100.0%"), []*instancev1.Event{provisioningFailed}, true,
			WaitResult{Outcome: Succeeded, Reason: "Succeeded"}},
		{"failed", failed, nil, true, WaitResult{Outcome: Failed, Reason: "ImportFailed",
			Message: "Unable to connect to http data source: expected status code 200, got 404"}},
		{"failed without conditions", &instancev1.DataVolume{Name: "dv1", Phase: "Failed"}, nil, true, WaitResult{Outcome: Failed, Reason: "Failed"}},
		{"wait for first consumer", withPhase(importing("vms", "dv1", "N/A"), "WaitForFirstConsumer", "N/A"), nil, true,
			WaitResult{Outcome: Blocked, Reason: "WaitForFirstConsumer", Message: HintWaitForFirstConsumer}},
		{"pending population", withPhase(importing("vms", "dv1", "N/A"), "PendingPopulation", "N/A"), nil, true,
			WaitResult{Outcome: Blocked, Reason: "PendingPopulation", Message: HintPendingPopulation}},
		{"provisioning failed", withPhase(importing("vms", "dv1", "N/A"), "Pending", "N/A"), []*instancev1.Event{normal, provisioningFailed}, true,
			WaitResult{Outcome: Blocked, Reason: "ProvisioningFailed", Message: `storageclass.storage.k8s.io "fast" not found`}},
		{"claim not valid", withPhase(importing("vms", "dv1", "N/A"), "Pending", "N/A"), []*instancev1.Event{claimNotValid}, true,
			WaitResult{Outcome: Blocked, Reason: "ErrClaimNotValid", Message: "DataVolume.storage spec is missing accessMode and volumeMode"}},
		{"latest blocking event wins", withPhase(importing("vms", "dv1", "N/A"), "Pending", "N/A"), []*instancev1.Event{provisioningFailed, claimNotValid}, true,
			WaitResult{Outcome: Blocked, Reason: "ErrClaimNotValid", Message: "DataVolume.storage spec is missing accessMode and volumeMode"}},
		{"event older than the DataVolume", withPhase(importing("vms", "dv1", "N/A"), "Pending", "N/A"), []*instancev1.Event{stale}, false, WaitResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, got := Classify(tt.dv, tt.events)
			if done != tt.done || got != tt.want {
				t.Errorf("Classify = %v, %+v; want %v, %+v", done, got, tt.done, tt.want)
			}
		})
	}
}

// quits says whether cmd is tea.Quit.
func quits(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func TestWaitOutcomes(t *testing.T) {
	dv := func() *instancev1.DataVolume { return importing("vms", "dv1", "45.67%") }
	tests := []struct {
		name   string
		opts   WaitOptions
		msgs   []tea.Msg
		want   Outcome
		reason string
		screen []string
	}{
		{"succeeded", WaitOptions{}, []tea.Msg{
			batch(added(dv()), synced()),
			batch(modified(withPhase(dv(), "Succeeded", "100.0%"))),
		}, Succeeded, "Succeeded", []string{"Succeeded", "100.0%", "✓ succeeded"}},
		{"failed", WaitOptions{}, []tea.Msg{
			batch(added(dv()), synced(), modified(withPhase(dv(), "Failed", "45.67%"))),
		}, Failed, "Pod is running", []string{"✗ failed"}},
		{"timed out", WaitOptions{Timeout: time.Minute}, []tea.Msg{
			batch(added(dv()), synced()), waitTimeoutMsg{},
		}, TimedOut, "ImportInProgress", []string{"timed out after 1m0s; the DataVolume is ImportInProgress at 45.67%"}},
		{"blocked", WaitOptions{}, []tea.Msg{
			batch(added(withPhase(dv(), "WaitForFirstConsumer", "N/A")), synced()),
		}, Blocked, "WaitForFirstConsumer", []string{"blocked: WaitForFirstConsumer", "--force-bind"}},
		{"blocked by an event", WaitOptions{}, []tea.Msg{
			batch(added(withPhase(dv(), "Pending", "N/A")), synced()),
			batch(event(&instancev1.Event{Type: "Warning", Reason: "ProvisioningFailed", DataVolume: "dv1", Namespace: "vms", Message: "no such class", LastSeenAt: ts(0)})),
		}, Blocked, "ProvisioningFailed", []string{"! ProvisioningFailed: no such class", "blocked: ProvisioningFailed: no such class"}},
		{"interrupted", WaitOptions{}, []tea.Msg{
			batch(added(dv()), synced()), press("ctrl+c"),
		}, Interrupted, "Interrupted", []string{MessageInterrupted, "45.67%"}},
		{"deleted", WaitOptions{}, []tea.Msg{
			batch(added(dv()), synced()), batch(deleted(dv())),
		}, Deleted, "Deleted", []string{"✗ " + MessageDeleted}},
		{"watch ended", WaitOptions{}, []tea.Msg{
			batch(added(dv()), synced()), watchClosedMsg{},
		}, WatchEnded, "WatchEnded", []string{MessageWatchEnded}},
		{"watch ended in the same burst", WaitOptions{}, []tea.Msg{
			dataVolumeEventsMsg{responses: []*instancev1.WatchDataVolumesResponse{added(dv()), synced()}, closed: true},
		}, WatchEnded, "WatchEnded", []string{MessageWatchEnded}},
		{"other DataVolumes ignored", WaitOptions{}, []tea.Msg{
			batch(added(dv()), added(withPhase(importing("vms", "dv2", "N/A"), "Failed", "N/A")),
				added(withPhase(importing("other", "dv1", "N/A"), "Succeeded", "N/A")), synced()),
		}, Waiting, "", []string{"vms/dv1  ImportInProgress", "45.67%", "Pod is running", "claim Bound 10Gi · size 10Gi · restarts 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Namespace, opts.Name, opts.Now = "vms", "dv1", fixedNow
			m := NewWait(nil, opts)
			var last tea.Cmd
			for _, msg := range tt.msgs {
				m, last = m.Update(msg)
			}
			res := WaitResultOf(m)
			if res.Outcome != tt.want || res.Reason != tt.reason {
				t.Errorf("result = %+v, want outcome %s reason %q", res, tt.want, tt.reason)
			}
			if (tt.want != Waiting) != quits(last) {
				t.Errorf("quit = %v, want %v", quits(last), tt.want != Waiting)
			}
			mustContain(t, screen(m), tt.screen...)
			if tt.want == Waiting {
				return
			}
			// Nothing changes the result once the wait is over.
			m = update(t, m, batch(modified(withPhase(dv(), "Succeeded", "100.0%"))), press("ctrl+c"))
			if got := WaitResultOf(m); got != res {
				t.Errorf("result changed after the end: %+v -> %+v", res, got)
			}
		})
	}
}

func TestWaitBeforeTheDataVolumeAppears(t *testing.T) {
	m := NewWait(nil, WaitOptions{Namespace: "vms", Name: "dv1", Timeout: time.Minute, Now: fixedNow})
	mustContain(t, screen(m), "vms/dv1", "waiting for the first list…")
	m = update(t, m, waitTimeoutMsg{})
	if got := WaitResultOf(m); got.Outcome != TimedOut || got.Reason != "" || got.Message != "N/A" {
		t.Errorf("result = %+v", got)
	}
	mustContain(t, screen(m), "✗ timed out after 1m0s; the DataVolume never appeared")
}

func TestWaitNotFound(t *testing.T) {
	m := NewWait(nil, WaitOptions{Namespace: "vms", Name: "dv1", Now: fixedNow})
	m, cmd := m.Update(batch(added(importing("vms", "other", "N/A")), synced()))
	if got := WaitResultOf(m); got.Outcome != Deleted || got.Reason != "NotFound" || !quits(cmd) {
		t.Errorf("result = %+v", got)
	}
	mustContain(t, screen(m), "✗ "+MessageNotFound)
}

func TestWaitResultString(t *testing.T) {
	r := WaitResult{Outcome: Blocked, Reason: "WaitForFirstConsumer", Message: HintWaitForFirstConsumer}
	if got, want := r.String(), "Blocked: WaitForFirstConsumer: "+HintWaitForFirstConsumer; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := (WaitResult{Outcome: Succeeded, Reason: "Succeeded"}).String(); got != "Succeeded" {
		t.Errorf("String = %q", got)
	}
}
