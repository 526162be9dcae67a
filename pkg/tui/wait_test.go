package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/follow"
)

// quits says whether cmd is tea.Quit.
func quits(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

const (
	notFound = "Unable to connect to http data source: expected status code 200, got 404. Status: 404 Not Found"
	refused  = "Unable to connect to http data source: HTTP request errored: dial tcp 10.0.0.1:80: connect: connection refused"
)

// crashed is dv after its importer exited with message, as CDI shows it
// (recC.log 21:44:36 c-url): phase ImportInProgress, restartCount,
// Running=False reason Error with the importer's message.
func crashed(dv *instancev1.DataVolume, restarts int32, message string) *instancev1.DataVolume {
	dv.RestartCount = restarts
	for i, c := range dv.Conditions {
		if c.GetType() == "Running" {
			dv.Conditions[i] = &instancev1.DataVolume_Condition{Type: "Running", Status: "False", Reason: "Error", Message: message, HeartbeatAt: ts(0)}
		}
	}
	return dv
}

// unschedulable is dv whose importer pod the scheduler cannot place,
// since ago (CDI.md: Running=False/Unschedulable).
func unschedulable(dv *instancev1.DataVolume, ago time.Duration) *instancev1.DataVolume {
	dv.Phase = ""
	for i, c := range dv.Conditions {
		if c.GetType() == "Running" {
			dv.Conditions[i] = &instancev1.DataVolume_Condition{Type: "Running", Status: "False", Reason: "Unschedulable", Message: "Importer pod cannot be scheduled", HeartbeatAt: ts(ago)}
		}
	}
	return dv
}

func TestWaitOutcomes(t *testing.T) {
	dv := func() *instancev1.DataVolume { return importing("vms", "dv1", "45.67%") }
	tests := []struct {
		name   string
		opts   WaitOptions
		msgs   []tea.Msg
		want   follow.Outcome
		reason string
		screen []string
	}{
		{"succeeded", WaitOptions{}, []tea.Msg{
			batch(added(dv()), synced()),
			batch(modified(withPhase(dv(), "Succeeded", "100.0%"))),
		}, follow.Succeeded, "Succeeded", []string{"Succeeded", "100.0%", "✓ succeeded"}},
		{"failed", WaitOptions{}, []tea.Msg{
			batch(added(dv()), synced(), modified(withPhase(dv(), "Failed", "45.67%"))),
		}, follow.Failed, "Pod is running", []string{"✗ failed"}},
		{"timed out", WaitOptions{Timeout: time.Minute}, []tea.Msg{
			batch(added(dv()), synced()), waitTimeoutMsg{},
		}, follow.TimedOut, "ImportInProgress", []string{"timed out after 1m0s; the DataVolume is ImportInProgress at 45.67%"}},
		{"blocked", WaitOptions{}, []tea.Msg{
			batch(added(withPhase(dv(), "WaitForFirstConsumer", "N/A")), synced()),
		}, follow.Blocked, "WaitForFirstConsumer", []string{"blocked: WaitForFirstConsumer", "when a VM uses it"}},
		{"importer failed on a 404", WaitOptions{}, []tea.Msg{
			tea.WindowSizeMsg{Width: 400, Height: 40},
			batch(added(dv()), synced()),
			batch(modified(crashed(dv(), 1, notFound))),
		}, follow.Failed, "Error", []string{"✗ failed: Error: " + notFound + " (importer 1 restart)", "check the source URL"}},
		{"importer kept failing", WaitOptions{Rules: follow.Rules{MaxRestarts: 2, UnschedulableGrace: time.Minute}}, []tea.Msg{
			tea.WindowSizeMsg{Width: 400, Height: 40},
			batch(added(dv()), synced()),
			batch(modified(crashed(dv(), 2, refused))),
			batch(modified(crashed(dv(), 3, refused))),
		}, follow.Failed, "Error", []string{"✗ failed: Error: " + refused + " (importer 3 restarts)"}},
		{"unschedulable past the grace", WaitOptions{}, []tea.Msg{
			batch(added(unschedulable(dv(), 2*time.Minute)), synced()),
		}, follow.Blocked, "Unschedulable", []string{"blocked: Unschedulable: Importer pod cannot be scheduled"}},
		{"blocked by an event", WaitOptions{}, []tea.Msg{
			batch(added(withPhase(dv(), "Pending", "N/A")), synced()),
			batch(event(&instancev1.Event{Type: "Warning", Reason: "ProvisioningFailed", DataVolume: "dv1", Namespace: "vms", Message: "no such class", LastSeenAt: ts(0)})),
		}, follow.Blocked, "ProvisioningFailed", []string{"! ProvisioningFailed: no such class", "blocked: ProvisioningFailed: no such class"}},
		{"interrupted", WaitOptions{}, []tea.Msg{
			batch(added(dv()), synced()), press("ctrl+c"),
		}, follow.Interrupted, "Interrupted", []string{follow.MessageInterrupted, "45.67%"}},
		{"deleted", WaitOptions{}, []tea.Msg{
			batch(added(dv()), synced()), batch(deleted(dv())),
		}, follow.Deleted, "Deleted", []string{"✗ " + follow.MessageDeleted}},
		{"watch ended", WaitOptions{}, []tea.Msg{
			batch(added(dv()), synced()), watchClosedMsg{},
		}, follow.WatchEnded, "WatchEnded", []string{follow.MessageWatchEnded}},
		{"watch ended in the same burst", WaitOptions{}, []tea.Msg{
			dataVolumeEventsMsg{responses: []*instancev1.WatchDataVolumesResponse{added(dv()), synced()}, closed: true},
		}, follow.WatchEnded, "WatchEnded", []string{follow.MessageWatchEnded}},
		{"other DataVolumes ignored", WaitOptions{}, []tea.Msg{
			batch(added(dv()), added(withPhase(importing("vms", "dv2", "N/A"), "Failed", "N/A")),
				added(withPhase(importing("other", "dv1", "N/A"), "Succeeded", "N/A")), synced()),
		}, follow.Waiting, "", []string{"vms/dv1  ImportInProgress", "45.67%", "Pod is running", "claim Bound Block 10Gi · asked 10Gi · restarts 0"}},
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
			if (tt.want != follow.Waiting) != quits(last) {
				t.Errorf("quit = %v, want %v", quits(last), tt.want != follow.Waiting)
			}
			mustContain(t, screen(m), tt.screen...)
			if tt.want == follow.Waiting {
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

// Before the claim binds the view follows CDI's importer; a repeated event
// is one line with its count.
func TestWaitFollowsTheImporter(t *testing.T) {
	dv := importing("vms", "dv1", "N/A")
	dv.Phase = ""
	dv.PersistentVolumeClaim.Status, dv.PersistentVolumeClaim.Capacity = "Pending", ""
	dv.Conditions = []*instancev1.DataVolume_Condition{
		{Type: "Bound", Status: "False", Reason: "Pending", Message: "PVC dv1 Pending"},
		{Type: "Ready", Status: "False"},
		{Type: "Running", Status: "False"},
	}
	dv.Importer = &instancev1.DataVolume_Importer{Pod: "importer-prime-1", PodPhase: "Pending", PrimeClaim: "prime-1"}
	m := NewWait(nil, WaitOptions{Namespace: "vms", Name: "dv1", Now: fixedNow})
	ev := func(n int32) *instancev1.WatchDataVolumesResponse {
		return event(&instancev1.Event{Type: "Warning", Reason: "ErrImportFailed", DataVolume: "dv1", Namespace: "vms",
			Object: "PersistentVolumeClaim/prime-1", Message: "Unable to process data", Count: n, LastSeenAt: ts(0)})
	}
	m = update(t, m, tea.WindowSizeMsg{Width: 200, Height: 20}, batch(added(dv), synced()), batch(ev(1)), batch(ev(2)), batch(ev(3)))
	out := screen(m)
	mustContain(t, out, "vms/dv1  Pending", "waiting for claim prime-1 to bind", "importer importer-prime-1 Pending",
		"! ErrImportFailed: Unable to process data (x3)")
	if n := strings.Count(out, "ErrImportFailed"); n != 1 {
		t.Errorf("the repeated event shows %d times:\n%s", n, out)
	}
}

// The grace for an unschedulable importer runs out on the clock, with no
// new message from the watch.
func TestWaitUnschedulableOnTheClock(t *testing.T) {
	now := fixedNow()
	m := NewWait(nil, WaitOptions{Namespace: "vms", Name: "dv1", Now: func() time.Time { return now }})
	m, cmd := m.Update(batch(added(unschedulable(importing("vms", "dv1", "N/A"), 0)), synced()))
	if quits(cmd) || WaitResultOf(m).Outcome != follow.Waiting {
		t.Fatalf("over before the grace: %+v", WaitResultOf(m))
	}
	now = now.Add(30 * time.Second)
	if m, cmd = m.Update(clockTickMsg{}); quits(cmd) {
		t.Fatalf("over within the grace: %+v", WaitResultOf(m))
	}
	now = now.Add(31 * time.Second)
	m, cmd = m.Update(clockTickMsg{})
	if got := WaitResultOf(m); got.Outcome != follow.Blocked || got.Reason != "Unschedulable" || !quits(cmd) {
		t.Errorf("after the grace: %+v, quit %v", got, quits(cmd))
	}
}

func TestWaitBeforeTheDataVolumeAppears(t *testing.T) {
	m := NewWait(nil, WaitOptions{Namespace: "vms", Name: "dv1", Timeout: time.Minute, Now: fixedNow})
	mustContain(t, screen(m), "vms/dv1", "waiting for the first list…")
	m = update(t, m, waitTimeoutMsg{})
	if got := WaitResultOf(m); got.Outcome != follow.TimedOut || got.Reason != "" || got.Message != "N/A" {
		t.Errorf("result = %+v", got)
	}
	mustContain(t, screen(m), "✗ timed out after 1m0s; the DataVolume never appeared")
}

func TestWaitNotFound(t *testing.T) {
	m := NewWait(nil, WaitOptions{Namespace: "vms", Name: "dv1", Now: fixedNow})
	m, cmd := m.Update(batch(added(importing("vms", "other", "N/A")), synced()))
	if got := WaitResultOf(m); got.Outcome != follow.Deleted || got.Reason != "NotFound" || !quits(cmd) {
		t.Errorf("result = %+v", got)
	}
	mustContain(t, screen(m), "✗ "+follow.MessageNotFound)
}
