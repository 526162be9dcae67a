package tui

import (
	"strings"
	"testing"
	"time"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

func TestPlainLine(t *testing.T) {
	restarted := importing("vms", "dv1", "45.67%")
	restarted.RestartCount = 2
	hostile := importing("vms", "dv1", "12.50%")
	hostile.Conditions[1].Reason = "Transfer\x1b[31mRunning\n"
	tests := []struct {
		name string
		dv   *instancev1.DataVolume
		all  bool
		want string
	}{
		{"importing", importing("vms", "dv1", "45.67%"), false, "dv1  ImportInProgress  45.67%  TransferRunning"},
		{"all namespaces", importing("vms", "dv1", "45.67%"), true, "vms  dv1  ImportInProgress  45.67%  TransferRunning"},
		{"not available", importing("vms", "dv1", "N/A"), false, "dv1  ImportInProgress  N/A  TransferRunning"},
		{"empty progress and reason", &instancev1.DataVolume{Name: "dv1", Phase: "Pending"}, false, "dv1  Pending  N/A  -"},
		{"nothing yet", &instancev1.DataVolume{Name: "dv1"}, false, "dv1  -  N/A  -"},
		{"restarts", restarted, false, "dv1  ImportInProgress  45.67%  TransferRunning  restarts=2"},
		{"escape sequences dropped", hostile, false, "dv1  ImportInProgress  12.50%  Transfer[31mRunning "},
		{"ready reason when running has none", &instancev1.DataVolume{
			Name: "dv1", Phase: "Succeeded", Progress: "100.0%",
			Conditions: []*instancev1.DataVolume_Condition{{Type: "Running", Status: "False"}, {Type: "Ready", Status: "True", Reason: "Completed"}},
		}, false, "dv1  Succeeded  100.0%  Completed"},
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

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "", 512: "512", 10 << 30: "10Gi", 1536 << 20: "1.5Gi", 512 << 20: "512Mi", 2 << 40: "2Ti"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHumanAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 42 * time.Second: "42s", 90 * time.Second: "1m30s", 5 * time.Minute: "5m", 42 * time.Minute: "42m",
		150 * time.Minute: "2h30m", 20 * time.Hour: "20h", 72 * time.Hour: "3d", 800 * 24 * time.Hour: "2y",
	} {
		if got := humanAge(testNow, testNow.Add(-d)); got != want {
			t.Errorf("humanAge(%s) = %q, want %q", d, got, want)
		}
	}
	if got := humanAge(testNow, time.Time{}); got != "-" {
		t.Errorf("humanAge(zero) = %q, want -", got)
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
