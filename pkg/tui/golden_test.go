package tui

import (
	"bytes"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/follow"
)

// The golden files are the final frame of a real program at 100x20 with the
// ASCII colour profile (what NO_COLOR gives: no colour, bold and reverse
// video kept). go test -update rewrites them.

const goldenWidth, goldenHeight = 100, 20

func goldenScene() []*instancev1.WatchDataVolumesResponse {
	waiting := withPhase(importing("vms", "fedora-41", "N/A"), "WaitForFirstConsumer", "N/A")
	// A 1Gi Filesystem disk: CDI's claim asks for more (what it asked
	// for a 1Gi one when observed), and is not bound yet.
	waiting.SizeBytes, waiting.VolumeMode = 1<<30, "Filesystem"
	waiting.PersistentVolumeClaim.Status = "Pending"
	waiting.PersistentVolumeClaim.Capacity = ""
	waiting.PersistentVolumeClaim.VolumeMode = "Filesystem"
	waiting.PersistentVolumeClaim.RequestBytes = 1138166334
	waiting.PersistentVolumeClaim.StorageClass.VolumeBindingMode = "WaitForFirstConsumer"
	waiting.Conditions = []*instancev1.DataVolume_Condition{
		{Type: "Bound", Status: "False", Reason: "Pending", Message: "PVC fedora-41 Pending", TransitionedAt: ts(2 * time.Minute)},
		{Type: "Running", Status: "False", TransitionedAt: ts(2 * time.Minute)},
		{Type: "Ready", Status: "False", TransitionedAt: ts(2 * time.Minute)},
	}
	failing := importing("vms", "windows-2022", "12.34%")
	failing.RestartCount = 3
	failing.SizeBytes = 64 << 30
	failing.PersistentVolumeClaim.Capacity, failing.PersistentVolumeClaim.RequestBytes = "64Gi", 64<<30
	failing.CreatedAt = ts(3 * time.Hour)
	failing.Conditions[1] = &instancev1.DataVolume_Condition{
		Type: "Running", Status: "False", Reason: "Error",
		Message: "Unable to process data: unexpected EOF", TransitionedAt: ts(time.Minute),
	}
	done := withPhase(importing("vms", "debian-12", "100.0%"), "Succeeded", "100.0%")
	done.CreatedAt = ts(26 * time.Hour)
	done.Conditions[1] = &instancev1.DataVolume_Condition{Type: "Running", Status: "False", Reason: "Completed", Message: "Import Complete", TransitionedAt: ts(25 * time.Hour)}
	done.Conditions[2] = &instancev1.DataVolume_Condition{Type: "Ready", Status: "True", TransitionedAt: ts(25 * time.Hour)}
	return []*instancev1.WatchDataVolumesResponse{
		added(importing("vms", "ubuntu-24.04", "45.67%")),
		added(done),
		added(waiting),
		added(failing),
		added(withPhase(importing("vms", "cirros", "N/A"), "ImportScheduled", "N/A")),
		synced(),
		event(&instancev1.Event{
			Type: "Warning", Reason: "BackOff", DataVolume: "windows-2022", Namespace: "vms", Object: "Pod/importer-windows-2022",
			Message: "Back-off restarting failed container importer", Count: 3, LastSeenAt: ts(time.Minute),
		}),
		event(&instancev1.Event{
			Type: "Normal", Reason: "ImportInProgress", DataVolume: "windows-2022", Namespace: "vms",
			Message: "Import into windows-2022 in progress", Count: 1, LastSeenAt: ts(4 * time.Minute),
		}),
	}
}

// runGolden runs m as a program, feeding it keys once want shows, and
// compares its final frame with the golden file.
func runGolden(t *testing.T, m tea.Model, want string, keys ...tea.KeyPressMsg) tea.Model {
	t.Helper()
	return runGoldenSized(t, m, goldenWidth, goldenHeight, want, keys...)
}

// runGoldenSized is runGolden on a terminal of another size.
func runGoldenSized(t *testing.T, m tea.Model, width, height int, want string, keys ...tea.KeyPressMsg) tea.Model {
	t.Helper()
	tm := teatest.NewTestModel(t, m,
		teatest.WithInitialTermSize(width, height),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)),
	)
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	for _, k := range keys {
		tm.Send(k)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
	teatest.RequireEqualOutput(t, []byte(final.View().Content))
	return final
}

func scene(rs []*instancev1.WatchDataVolumesResponse) <-chan *instancev1.WatchDataVolumesResponse {
	ch := make(chan *instancev1.WatchDataVolumesResponse, len(rs))
	for _, r := range rs {
		ch <- r
	}
	return ch // left open: the watch goes on until the user quits
}

func TestGoldenWatchTable(t *testing.T) {
	m := NewWatch(scene(goldenScene()), WatchOptions{Namespace: "vms", Now: fixedNow})
	runGolden(t, m, "sorted by name", press("down"), press("down"), press("q"))
}

// A wide terminal has room for every column: the claim's size and volume
// mode, which CDI picked (fedora-41 asked 1Gi of Filesystem; its claim asks
// 1138166334 bytes).
func TestGoldenWatchTableWide(t *testing.T) {
	m := NewWatch(scene(goldenScene()), WatchOptions{Namespace: "vms", Now: fixedNow})
	runGoldenSized(t, m, 140, 12, "sorted by name", press("q"))
}

func TestGoldenWatchTableAllNamespacesByProgress(t *testing.T) {
	rs := goldenScene()
	rs = append(rs[:5:5], added(importing("golden", "base-image", "88.80%")), synced())
	m := NewWatch(scene(rs), WatchOptions{AllNamespaces: true, Now: fixedNow})
	runGolden(t, m, "sorted by name", press("s"), press("s"), press("q"))
}

func TestGoldenWatchDetail(t *testing.T) {
	m := NewWatch(scene(goldenScene()), WatchOptions{Namespace: "vms", Now: fixedNow})
	runGolden(t, m, "sorted by name", press("G"), press("enter"), press("q"))
}

func TestGoldenWatchHelp(t *testing.T) {
	m := NewWatch(scene(goldenScene()), WatchOptions{Namespace: "vms", Now: fixedNow})
	runGolden(t, m, "sorted by name", press("?"), press("q"))
}

func TestGoldenWaitProgress(t *testing.T) {
	rs := goldenScene()
	m := NewWait(scene(rs), WaitOptions{Namespace: "vms", Name: "windows-2022", Timeout: time.Hour, Now: fixedNow})
	final := runGolden(t, m, "restarts 3", press("ctrl+c"))
	if got := WaitResultOf(final); got.Outcome != follow.Interrupted || got.Message != follow.MessageInterrupted {
		t.Errorf("result = %+v", got)
	}
}

func TestGoldenWaitBlocked(t *testing.T) {
	m := NewWait(scene(goldenScene()), WaitOptions{Namespace: "vms", Name: "fedora-41", Now: fixedNow})
	final := runGolden(t, m, "blocked:")
	if got := WaitResultOf(final); got.Outcome != follow.Blocked || got.Reason != "WaitForFirstConsumer" {
		t.Errorf("result = %+v", got)
	}
}

func TestGoldenWaitSucceeded(t *testing.T) {
	ch := make(chan *instancev1.WatchDataVolumesResponse, 10)
	ch <- added(importing("vms", "ubuntu-24.04", "45.67%"))
	ch <- synced()
	m := NewWait(ch, WaitOptions{Namespace: "vms", Name: "ubuntu-24.04", Timeout: time.Hour, Now: fixedNow})
	tm := teatest.NewTestModel(t, m,
		teatest.WithInitialTermSize(goldenWidth, goldenHeight),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)),
	)
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("45.67%")) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	done := withPhase(importing("vms", "ubuntu-24.04", "100.0%"), "Succeeded", "100.0%")
	done.Conditions[1] = &instancev1.DataVolume_Condition{Type: "Running", Status: "False", Reason: "Completed", Message: "Import Complete"}
	ch <- modified(done)
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
	teatest.RequireEqualOutput(t, []byte(final.View().Content))
	if got := WaitResultOf(final); got.Outcome != follow.Succeeded {
		t.Errorf("result = %+v", got)
	}
}

// TestNoColorReachesTheTerminal runs the watch view as a program on a
// true-colour terminal with NO_COLOR set: not one colour sequence may reach
// the output, while the same run without NO_COLOR does use colour.
func TestNoColorReachesTheTerminal(t *testing.T) {
	for _, tt := range []struct {
		env    []string
		colour bool
	}{
		{[]string{"TERM=xterm-256color", "NO_COLOR=1"}, false},
		{[]string{"TERM=xterm-256color", "NO_COLOR=yes"}, false},
		{[]string{"TERM=xterm-256color"}, true},
	} {
		t.Run(tt.env[len(tt.env)-1], func(t *testing.T) {
			m := NewWatch(scene(goldenScene()), WatchOptions{Namespace: "vms", Now: fixedNow})
			tm := teatest.NewTestModel(t, m,
				teatest.WithInitialTermSize(goldenWidth, goldenHeight),
				teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.TrueColor), tea.WithEnvironment(tt.env)),
			)
			teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("sorted by name")) },
				teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
			tm.Send(press("q"))
			var out bytes.Buffer
			if _, err := out.ReadFrom(tm.FinalOutput(t, teatest.WithFinalTimeout(5*time.Second))); err != nil {
				t.Fatal(err)
			}
			final := tm.FinalModel(t).View().Content
			got := bytes.Contains(out.Bytes(), []byte("38;2;")) || bytes.Contains([]byte(final), []byte("38;2;"))
			if got != tt.colour {
				t.Errorf("colour in the output = %v, want %v", got, tt.colour)
			}
		})
	}
}
