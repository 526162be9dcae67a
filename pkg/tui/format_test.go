package tui

import (
	"strings"
	"testing"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

func TestPlainLine(t *testing.T) {
	restarted := importing("vms", "dv1", "45.67%")
	restarted.RestartCount = 2
	hostile := importing("vms", "dv1", "12.50%")
	hostile.Conditions[1].Reason = "Pod is\x1b[31m running\n"
	tests := []struct {
		name string
		dv   *instancev1.DataVolume
		all  bool
		want string
	}{
		{"importing", importing("vms", "dv1", "45.67%"), false, "dv1  ImportInProgress  45.67%  Pod is running"},
		{"all namespaces", importing("vms", "dv1", "45.67%"), true, "vms  dv1  ImportInProgress  45.67%  Pod is running"},
		{"not available", importing("vms", "dv1", "N/A"), false, "dv1  ImportInProgress  N/A  Pod is running"},
		{"empty progress and reason", &instancev1.DataVolume{Name: "dv1", Phase: "Pending"}, false, "dv1  Pending  N/A  -"},
		{"nothing yet", &instancev1.DataVolume{Name: "dv1"}, false, "dv1  Pending  N/A  -"},
		{"restarts", restarted, false, "dv1  ImportInProgress  45.67%  Pod is running  restarts=2"},
		{"escape sequences dropped", hostile, false, "dv1  ImportInProgress  12.50%  Pod is[31m running "},
		{"ready reason when running has none", &instancev1.DataVolume{
			Name: "dv1", Phase: "Succeeded", Progress: "100.0%",
			Conditions: []*instancev1.DataVolume_Condition{{Type: "Running", Status: "False"}, {Type: "Ready", Status: "True", Reason: "Completed"}},
		}, false, "dv1  Succeeded  100.0%  Completed"},
		// cdi-observed/recC.log 21:41:22 c-url: no phase yet, the target
		// claim pending, the prime claim binding.
		{"populator path before the import is scheduled", &instancev1.DataVolume{
			Name: "c-url", Progress: "N/A",
			Conditions: []*instancev1.DataVolume_Condition{
				{Type: "Bound", Status: "False", Reason: "Pending", Message: "PVC c-url Pending"},
				{Type: "Ready", Status: "False"}, {Type: "Running", Status: "False"},
			},
			Importer: &instancev1.DataVolume_Importer{Pod: "importer-prime-1", PodPhase: "Pending", PrimeClaim: "prime-1"},
		}, false, "c-url  Pending  N/A  Pending"},
		{"last condition only", &instancev1.DataVolume{
			Name: "dv1", Phase: "ImportScheduled",
			LastCondition: &instancev1.DataVolume_Condition{Type: "Running", Status: "False", Reason: "Pending"},
		}, false, "dv1  ImportScheduled  N/A  Pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlainLine(tt.dv, tt.all)
			if got != tt.want {
				t.Errorf("PlainLine = %q, want %q", got, tt.want)
			}
			if strings.ContainsAny(got, "\x1b\n\r") {
				t.Errorf("PlainLine %q has control characters", got)
			}
		})
	}
}

func TestPlainEvent(t *testing.T) {
	tests := []struct {
		name string
		ev   *instancev1.Event
		want string
	}{
		{"warning seen thrice", &instancev1.Event{
			Type: "Warning", Reason: "ProvisioningFailed", DataVolume: "dv1", Namespace: "vms",
			Message: `storageclass "fast" not found`, Count: 3,
		}, `dv1  Warning  ProvisioningFailed  storageclass "fast" not found (x3)`},
		{"normal once", &instancev1.Event{Type: "Normal", Reason: "ImportSucceeded", DataVolume: "dv1", Message: "Import Successful", Count: 1},
			"dv1  Normal  ImportSucceeded  Import Successful"},
		{"no message", &instancev1.Event{Type: "Normal", Reason: "Bound", DataVolume: "dv1"}, "dv1  Normal  Bound"},
		{"escapes and line breaks dropped", &instancev1.Event{Type: "Warning", Reason: "ErrClaimNotValid", DataVolume: "dv1", Message: "bad\x1b]0;title\x07\nclaim"},
			"dv1  Warning  ErrClaimNotValid  bad]0;title claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PlainEvent(tt.ev); got != tt.want {
				t.Errorf("PlainEvent = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseProgress(t *testing.T) {
	tests := []struct {
		in   string
		pct  float64
		isOK bool
	}{
		{"45.67%", 45.67, true}, {"100.00%", 100, true}, {"0%", 0, true}, {"N/A", 0, false}, {"", 0, false}, {"abc%", 0, false}, {"150%", 100, true},
	}
	for _, tt := range tests {
		pct, ok := parseProgress(tt.in)
		if pct != tt.pct || ok != tt.isOK {
			t.Errorf("parseProgress(%q) = %v, %v; want %v, %v", tt.in, pct, ok, tt.pct, tt.isOK)
		}
	}
}
