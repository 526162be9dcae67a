package instance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// The joiner is pure: these tests tell it what the API server holds and
// read what it decides to send. The watch tests (watch_test.go) run the
// whole engine against a real API server.

func testDV(name string, phase cdiv1.DataVolumePhase, progress string) *cdiv1.DataVolume {
	return &cdiv1.DataVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Status:     cdiv1.DataVolumeStatus{Phase: phase, Progress: cdiv1.DataVolumeProgress(progress)},
	}
}

func testClaim(name string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: phase},
	}
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// testEvent is an event about kind/name, last seen at t0+at; rv stands for
// its resourceVersion (a count-up changes it).
func testEvent(uid, kind, name, reason string, at time.Duration, rv string) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name + "." + uid, Namespace: "ns", UID: types.UID(uid), ResourceVersion: rv},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: "ns"},
		Type:           corev1.EventTypeWarning,
		Reason:         reason,
		Count:          1,
		LastTimestamp:  metav1.NewTime(t0.Add(at)),
	}
}

// said renders what the joiner decided since the last call: type, then the
// DataVolume's name, progress and claim status, or the event's DataVolume,
// object and reason.
func said(j *joiner) string {
	var parts []string
	for _, m := range j.take() {
		s := m.GetType().String()
		if dv := m.GetDataVolume(); dv != nil {
			claim := dv.GetPersistentVolumeClaim().GetStatus()
			if claim == "" {
				claim = "-"
			}
			s += fmt.Sprintf(" %s %s %s", dv.GetName(), dv.GetProgress(), claim)
		}
		if ev := m.GetEvent(); ev != nil {
			s += fmt.Sprintf(" %s %s %s %d", ev.GetDataVolume(), ev.GetObject(), ev.GetReason(), ev.GetCount())
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// What a relist after an expired resourceVersion sends: exactly the
// difference from what was sent before, never the unchanged state again.
// The restart test in watch_test.go covers the real thing.
func TestRelistSendsOnlyChanges(t *testing.T) {
	j := newJoiner(nil)
	relist := func(dvs []*cdiv1.DataVolume, claims []*corev1.PersistentVolumeClaim) {
		j.dataVolumeList(dvs)
		j.claimList(claims)
		j.eventList(nil)
	}
	relist(
		[]*cdiv1.DataVolume{
			testDV("changes", cdiv1.ImportInProgress, "10.00%"),
			testDV("goes", cdiv1.Pending, "N/A"),
			testDV("same", cdiv1.ImportInProgress, "10.00%"),
		},
		[]*corev1.PersistentVolumeClaim{testClaim("changes", corev1.ClaimPending), testClaim("same", corev1.ClaimBound)},
	)
	if got := said(j); got != "" {
		t.Fatalf("before the opening: %s", got)
	}
	j.open()
	if got, want := said(j), "ADDED changes 10.00% Pending, ADDED goes N/A -, ADDED same 10.00% Bound, SYNCED"; got != want {
		t.Fatalf("opening = %s\nwant      %s", got, want)
	}

	// Nothing changed: a relist sends nothing.
	relist(
		[]*cdiv1.DataVolume{
			testDV("changes", cdiv1.ImportInProgress, "10.00%"),
			testDV("goes", cdiv1.Pending, "N/A"),
			testDV("same", cdiv1.ImportInProgress, "10.00%"),
		},
		[]*corev1.PersistentVolumeClaim{testClaim("changes", corev1.ClaimPending), testClaim("same", corev1.ClaimBound)},
	)
	if got := said(j); got != "" {
		t.Errorf("relist without changes sent %s", got)
	}

	// Changes made while no watch was open.
	changed := func() {
		relist(
			[]*cdiv1.DataVolume{
				testDV("changes", cdiv1.Succeeded, "100.0%"),
				testDV("new", cdiv1.Pending, "N/A"),
				testDV("same", cdiv1.ImportInProgress, "10.00%"),
			},
			[]*corev1.PersistentVolumeClaim{testClaim("changes", corev1.ClaimBound), testClaim("same", corev1.ClaimBound)},
		)
	}
	changed()
	if got, want := said(j), "MODIFIED changes 100.0% Pending, ADDED new N/A -, DELETED goes N/A -, MODIFIED changes 100.0% Bound"; got != want {
		t.Errorf("relist sent %s\nwant        %s", got, want)
	}
	changed()
	if got := said(j); got != "" {
		t.Errorf("second relist sent %s", got)
	}
}

// Which DataVolume an event is about: the DataVolume, its claim, CDI's
// prime claim (prime-UID of the DataVolume's claim), or the importer pod of
// either path.
func TestEventTarget(t *testing.T) {
	j := newJoiner(nil)
	j.dataVolume(testDV("web", "", ""))
	j.claim(testClaim("web", corev1.ClaimPending))
	tests := []struct {
		kind, name, want string
	}{
		{"DataVolume", "web", "ns/web"},
		{"PersistentVolumeClaim", "web", "ns/web"},
		{"PersistentVolumeClaim", "prime-uid-web", "ns/web"},
		{"Pod", "importer-prime-uid-web", "ns/web"},
		{"Pod", "importer-web", "ns/web"},
		// Not seen yet: kept for a DataVolume of that name.
		{"PersistentVolumeClaim", "later", "ns/later"},
		{"Pod", "importer-later", "ns/later"},
		// The prime claim of a claim not seen: kept under its own name.
		{"PersistentVolumeClaim", "prime-unknown", "ns/prime-unknown"},
		{"Pod", "importer-prime-unknown", "ns/prime-unknown"},
		{"Pod", "unrelated", ""},
		{"Node", "web", ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			if got := j.eventTarget(testEvent("u", tt.kind, tt.name, "R", 0, "1")); got != tt.want {
				t.Errorf("eventTarget = %q, want %q", got, tt.want)
			}
		})
	}
	// A DataVolume whose claim is named otherwise (status.claimName).
	dv := testDV("renamed", "", "")
	dv.Status.ClaimName = "other"
	j.dataVolume(dv)
	j.claim(testClaim("other", corev1.ClaimBound))
	for _, name := range []string{"other", "prime-uid-other"} {
		if got := j.eventTarget(testEvent("u", "PersistentVolumeClaim", name, "R", 0, "1")); got != "ns/renamed" {
			t.Errorf("event on claim %s: eventTarget = %q, want ns/renamed", name, got)
		}
	}
}

// The opening: ADDED in name order, then the events about them oldest
// first (each in its latest state), then SYNCED; an event about something
// else never goes out.
func TestOpening(t *testing.T) {
	j := newJoiner(nil)
	j.event(testEvent("e2", "DataVolume", "b", "Second", 2*time.Second, "5"))
	j.dataVolume(testDV("b", cdiv1.Pending, "N/A"))
	j.dataVolume(testDV("a", cdiv1.Pending, "N/A"))
	j.eventList([]*corev1.Event{
		testEvent("e2", "DataVolume", "b", "Second", 2*time.Second, "5"),
		testEvent("e1", "PersistentVolumeClaim", "a", "First", time.Second, "4"),
		testEvent("e3", "Pod", "unrelated", "BackOff", 0, "3"),
	})
	// Counted up before the opening: sent once, with its count.
	up := testEvent("e1", "PersistentVolumeClaim", "a", "First", 3*time.Second, "6")
	up.Count = 2
	j.event(up)
	j.eventGone(testEvent("e2", "DataVolume", "b", "Second", 2*time.Second, "5"))
	j.claim(testClaim("a", corev1.ClaimBound))
	if got := said(j); got != "" {
		t.Fatalf("before the opening: %s", got)
	}
	j.open()
	if got, want := said(j), "ADDED a N/A Bound, ADDED b N/A -, EVENT a PersistentVolumeClaim/a First 2, SYNCED"; got != want {
		t.Errorf("opening = %s\nwant      %s", got, want)
	}
	// The same event again (a relist, a resumed watch) is not news; a
	// count-up is.
	j.event(up)
	if got := said(j); got != "" {
		t.Errorf("the same event again sent %s", got)
	}
	up2 := testEvent("e1", "PersistentVolumeClaim", "a", "First", 4*time.Second, "7")
	up2.Count = 3
	j.event(up2)
	if got, want := said(j), "EVENT a PersistentVolumeClaim/a First 3"; got != want {
		t.Errorf("count-up sent %q, want %q", got, want)
	}
}

// Events that arrive before their DataVolume (the watches are not ordered
// with each other) follow its ADDED, unless they are too old by then; a
// DataVolume not asked for keeps none.
func TestEventsBeforeTheirDataVolume(t *testing.T) {
	now := t0
	j := newJoiner([]string{"web", "old"})
	j.now = func() time.Time { return now }
	j.open()
	if got := said(j); got != "SYNCED" {
		t.Fatalf("opening = %s", got)
	}
	j.event(testEvent("e1", "Pod", "importer-web", "Pulled", 0, "1"))
	j.event(testEvent("e2", "DataVolume", "old", "Pending", 0, "2"))
	j.event(testEvent("e3", "DataVolume", "other", "Pending", 0, "3"))
	if got := said(j); got != "" {
		t.Fatalf("events about no DataVolume seen yet sent %s", got)
	}
	if len(j.pending) != 2 {
		t.Errorf("kept events for %d DataVolumes, want 2 (web, old; other is not asked for)", len(j.pending))
	}
	now = now.Add(time.Minute)
	j.dataVolume(testDV("web", "", ""))
	if got, want := said(j), "ADDED web  -, EVENT web Pod/importer-web Pulled 1"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	now = now.Add(pendingTTL)
	j.dataVolume(testDV("old", "", ""))
	if got, want := said(j), "ADDED old  -"; got != want {
		t.Errorf("after the TTL: got %s, want %s", got, want)
	}
	// A DataVolume not asked for is never sent.
	j.dataVolume(testDV("other", "", ""))
	if got := said(j); got != "" {
		t.Errorf("a DataVolume not asked for sent %s", got)
	}
}

// A claim's change goes out with its DataVolume only if the message
// changes; a DataVolume leaving (deleted, or no longer selected) goes out
// with its last state, and its claim's later changes do not.
func TestClaimChangesAndDeletion(t *testing.T) {
	j := newJoiner(nil)
	j.open()
	_ = said(j)
	j.dataVolume(testDV("web", cdiv1.ImportInProgress, "10.00%"))
	j.claim(testClaim("web", corev1.ClaimPending))
	if got, want := said(j), "ADDED web 10.00% -, MODIFIED web 10.00% Pending"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	annotated := testClaim("web", corev1.ClaimPending)
	annotated.Annotations = map[string]string{"unrelated": "x"}
	j.claim(annotated)
	j.dataVolume(testDV("web", cdiv1.ImportInProgress, "10.00%"))
	if got := said(j); got != "" {
		t.Errorf("changes that change no message sent %s", got)
	}
	j.dataVolumeGone(testDV("web", cdiv1.Succeeded, "100.0%"))
	j.claimGone(testClaim("web", corev1.ClaimBound))
	if got, want := said(j), "DELETED web 100.0% Pending"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
