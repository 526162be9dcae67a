package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"google.golang.org/protobuf/types/known/timestamppb"

	applicationv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/application/v1"
	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// testNow is the fixed clock of every test, so ages and goldens are stable.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

func ts(ago time.Duration) *timestamppb.Timestamp { return timestamppb.New(testNow.Add(-ago)) }

// importing is a DataVolume in the middle of an HTTP import, the way CDI
// reports one on its older path (the claim bound before the import); the
// claim is Block, as CDI's StorageProfile makes a ceph-csi claim.
func importing(ns, name, progress string) *instancev1.DataVolume {
	return &instancev1.DataVolume{
		Name: name, Namespace: ns, Phase: "ImportInProgress", Progress: progress,
		SizeBytes: 10 << 30, CreatedAt: ts(5 * time.Minute),
		Source: &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_HTTP_URL, Data: "https://images.example/" + name + ".qcow2"},
		PersistentVolumeClaim: &applicationv1.Application_PersistentVolumeClaim{
			Name: name, Status: "Bound", Capacity: "10Gi", VolumeMode: "Block", RequestBytes: 10 << 30,
			StorageClass: &applicationv1.StorageClass{Name: "ceph-block", VolumeBindingMode: "Immediate"},
		},
		Conditions: []*instancev1.DataVolume_Condition{
			{Type: "Bound", Status: "True", Reason: "Bound", Message: "PVC " + name + " Bound", TransitionedAt: ts(4 * time.Minute)},
			{Type: "Running", Status: "True", Reason: "Pod is running", TransitionedAt: ts(3 * time.Minute)},
			{Type: "Ready", Status: "False", Reason: "TransferRunning", TransitionedAt: ts(3 * time.Minute)},
		},
	}
}

func withPhase(dv *instancev1.DataVolume, phase, progress string) *instancev1.DataVolume {
	dv.Phase, dv.Progress = phase, progress
	return dv
}

func resp(t instancev1.WatchDataVolumesResponse_Type, dv *instancev1.DataVolume) *instancev1.WatchDataVolumesResponse {
	return &instancev1.WatchDataVolumesResponse{Type: t, DataVolume: dv}
}

func added(dv *instancev1.DataVolume) *instancev1.WatchDataVolumesResponse {
	return resp(instancev1.WatchDataVolumesResponse_ADDED, dv)
}

func modified(dv *instancev1.DataVolume) *instancev1.WatchDataVolumesResponse {
	return resp(instancev1.WatchDataVolumesResponse_MODIFIED, dv)
}

func deleted(dv *instancev1.DataVolume) *instancev1.WatchDataVolumesResponse {
	return resp(instancev1.WatchDataVolumesResponse_DELETED, dv)
}

func synced() *instancev1.WatchDataVolumesResponse {
	return &instancev1.WatchDataVolumesResponse{Type: instancev1.WatchDataVolumesResponse_SYNCED}
}

func event(ev *instancev1.Event) *instancev1.WatchDataVolumesResponse {
	return &instancev1.WatchDataVolumesResponse{Type: instancev1.WatchDataVolumesResponse_EVENT, Event: ev}
}

func batch(rs ...*instancev1.WatchDataVolumesResponse) dataVolumeEventsMsg {
	return dataVolumeEventsMsg{responses: rs}
}

func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)
	return tea.KeyPressMsg{Code: r[0], Text: s}
}

// update feeds msgs to m in order, as the program would.
func update(t *testing.T, m tea.Model, msgs ...tea.Msg) tea.Model {
	t.Helper()
	for _, msg := range msgs {
		m, _ = m.Update(msg)
	}
	return m
}

// screen is the view's text without escape sequences.
func screen(m tea.Model) string {
	return ansi.Strip(m.View().Content)
}

func fleet(n int) []*instancev1.WatchDataVolumesResponse {
	rs := make([]*instancev1.WatchDataVolumesResponse, 0, n+1)
	for i := range n {
		rs = append(rs, added(importing("vms", fmt.Sprintf("dv-%04d", i), fmt.Sprintf("%d.00%%", i%100))))
	}
	return append(rs, synced())
}

func mustContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("missing %q in:\n%s", sub, s)
		}
	}
}

func mustNotContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Errorf("unexpected %q in:\n%s", sub, s)
		}
	}
}
