package tui

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

func newTestWatch(t *testing.T, opts WatchOptions, w, h int) *WatchModel {
	t.Helper()
	opts.Now = fixedNow
	m := NewWatch(nil, opts)
	return update(t, m, tea.WindowSizeMsg{Width: w, Height: h}).(*WatchModel)
}

// names lists the DataVolumes in table order.
func names(m *WatchModel) []string {
	var out []string
	for _, r := range m.store.visible() {
		out = append(out, r.dv.GetName())
	}
	return out
}

func TestWatchWaitsForTheFirstList(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 100, 20)
	update(t, m, batch(added(importing("vms", "a", "1.00%")), added(importing("vms", "b", "2.00%"))))
	s := screen(m)
	mustContain(t, s, "DataVolumes in namespace vms", "waiting for the first list… (2 so far)", "Waiting for the first list…")
	mustNotContain(t, s, "NAME", "Pod is running")

	update(t, m, batch(synced()))
	s = screen(m)
	mustContain(t, s, "2 · sorted by name", "NAME", "PHASE", "PROGRESS", "REASON", "RESTARTS", "CLAIM", "SIZE", "AGE",
		"a     ImportInProgress", "Pod is running", "Bound", "10Gi", "5m")
	mustNotContain(t, s, "NAMESPACE", "Waiting")
}

func TestWatchEmpty(t *testing.T) {
	m := newTestWatch(t, WatchOptions{AllNamespaces: true}, 100, 20)
	update(t, m, batch(synced()))
	mustContain(t, screen(m), "DataVolumes in all namespaces", "No DataVolumes found.")
}

func TestWatchRowsAddedUpdatedRemoved(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 100, 20)
	update(t, m, batch(added(importing("vms", "a", "10.00%")), added(importing("vms", "b", "20.00%")), synced()))
	update(t, m, batch(added(importing("vms", "c", "N/A"))))
	if got := names(m); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("rows = %v", got)
	}
	mustContain(t, screen(m), "N/A", "10.00%")

	done := withPhase(importing("vms", "b", "100.0%"), "Succeeded", "100.0%")
	done.RestartCount = 3
	update(t, m, batch(modified(done)))
	s := screen(m)
	mustContain(t, s, "Succeeded", "█████████████  100.0%") // a full bar, as wide as the MODE column leaves it
	if !strings.Contains(s, "       3  Bound") {
		t.Errorf("restarts not shown:\n%s", s)
	}

	update(t, m, batch(deleted(importing("vms", "a", ""))))
	if got := names(m); !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("rows after delete = %v", got)
	}
	mustContain(t, screen(m), "2 · sorted by name")
	// Deleting what is not there is harmless.
	update(t, m, batch(deleted(importing("vms", "zzz", ""))))
	if len(m.store.rows) != 2 {
		t.Errorf("rows = %d", len(m.store.rows))
	}
}

func TestWatchNamespaceColumn(t *testing.T) {
	m := newTestWatch(t, WatchOptions{AllNamespaces: true}, 120, 20)
	update(t, m, batch(added(importing("vms", "a", "10.00%")), added(importing("golden", "a", "20.00%")), synced()))
	s := screen(m)
	mustContain(t, s, "NAMESPACE", "golden", "vms")
	if got := names(m); !slices.Equal(got, []string{"a", "a"}) {
		t.Errorf("rows = %v", got)
	}
}

func TestWatchSortCycles(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 100, 20)
	c := importing("vms", "c", "90.00%")
	c.CreatedAt = ts(time.Minute)
	a := withPhase(importing("vms", "a", "N/A"), "Pending", "N/A")
	a.CreatedAt = ts(time.Hour)
	b := withPhase(importing("vms", "b", "100.0%"), "Succeeded", "100.0%")
	b.CreatedAt = ts(2 * time.Hour)
	update(t, m, batch(added(c), added(a), added(b), synced()))

	for _, step := range []struct {
		order string
		want  []string
	}{
		{"name", []string{"a", "b", "c"}},
		{"phase", []string{"c", "a", "b"}},    // ImportInProgress < Pending < Succeeded
		{"progress", []string{"b", "c", "a"}}, // most advanced first, N/A last
		{"age", []string{"c", "a", "b"}},      // newest first
		{"name", []string{"a", "b", "c"}},
	} {
		if got := names(m); !slices.Equal(got, step.want) {
			t.Errorf("sorted by %s: %v, want %v", step.order, got, step.want)
		}
		mustContain(t, screen(m), "sorted by "+step.order)
		update(t, m, press("s"))
	}
}

func TestWatchSortKeepsOrderOnUpdates(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 100, 20)
	update(t, m, batch(fleet(50)...), press("s"), press("s")) // by progress
	update(t, m, batch(modified(importing("vms", "dv-0007", "99.50%"))))
	if got := names(m)[0]; got != "dv-0007" {
		t.Errorf("first by progress = %s, want dv-0007", got)
	}
}

func TestStoreStaysSorted(t *testing.T) {
	// Random adds, updates and deletes in every order: the incrementally
	// kept slice must equal a full sort of the map.
	rng := rand.New(rand.NewPCG(1, 2))
	phases := []string{"Pending", "ImportScheduled", "ImportInProgress", "Succeeded", "Failed"}
	for order := range sortOrders {
		s := newStore()
		s.setOrder(order)
		for range 2000 {
			name := fmt.Sprintf("dv-%02d", rng.IntN(60))
			if rng.IntN(5) == 0 {
				s.remove("vms", name)
				continue
			}
			dv := importing("vms", name, fmt.Sprintf("%.2f%%", rng.Float64()*100))
			if rng.IntN(4) == 0 {
				dv.Progress = "N/A"
			}
			dv.Phase = phases[rng.IntN(len(phases))]
			dv.CreatedAt = ts(time.Duration(rng.IntN(10)) * time.Minute)
			s.upsert(dv)
		}
		want := make([]*row, 0, len(s.rows))
		for _, r := range s.rows {
			want = append(want, r)
		}
		slices.SortFunc(want, s.less)
		if !slices.Equal(s.sorted, want) {
			t.Errorf("order %s: incremental order differs from a full sort", order)
		}
	}
}

func TestWatchFilter(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 100, 20)
	update(t, m, batch(fleet(30)...))
	update(t, m, press("/"), press("0"), press("1"))
	mustContain(t, screen(m), "/01█", "11/30 · sorted by name", "dv-0001", "dv-0010")
	mustNotContain(t, screen(m), "dv-0002")
	update(t, m, press("backspace"), press("2"), press("enter"))
	s := screen(m)
	mustContain(t, s, "filter: 02 (esc clears)", "dv-0002", "dv-0020")
	if got := len(m.store.visible()); got != 11 { // dv-0002, dv-0020..dv-0029
		t.Errorf("visible = %d, want 11", got)
	}
	// Updates keep the filter.
	update(t, m, batch(added(importing("vms", "web-02", "N/A")), added(importing("vms", "web-03", "N/A"))))
	mustContain(t, screen(m), "web-02")
	mustNotContain(t, screen(m), "web-03")
	// A filter that matches nothing says so.
	update(t, m, press("/"), press("z"), press("enter"))
	mustContain(t, screen(m), "No DataVolume matches the filter.")
	update(t, m, press("esc"))
	if m.store.filter != "" || len(m.store.visible()) != 32 {
		t.Errorf("esc left filter %q with %d rows", m.store.filter, len(m.store.visible()))
	}
	// Esc while typing clears too; q while typing is text, not quit.
	update(t, m, press("/"), press("q"))
	if m.store.filter != "q" {
		t.Errorf("filter = %q", m.store.filter)
	}
	update(t, m, press("esc"))
	if m.store.filter != "" || m.mode != modeTable {
		t.Errorf("filter %q mode %d after esc", m.store.filter, m.mode)
	}
}

func TestWatchCursorFollowsItsDataVolume(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 100, 20)
	update(t, m, batch(fleet(30)...), press("down"), press("down"))
	if got := m.Selected().GetName(); got != "dv-0002" {
		t.Fatalf("selected %s", got)
	}
	update(t, m, press("s"), press("s")) // by progress: dv-0002 moves near the end
	if got := m.Selected().GetName(); got != "dv-0002" {
		t.Errorf("selected after sort %s", got)
	}
	mustContain(t, screen(m), "dv-0002")
	update(t, m, batch(deleted(importing("vms", "dv-0002", ""))))
	if m.Selected() == nil {
		t.Error("nothing selected after the selected row went away")
	}
	update(t, m, press("G"))
	if got := m.cursor; got != 28 {
		t.Errorf("cursor at %d after G", got)
	}
	update(t, m, press("g"))
	if got := m.cursor; got != 0 {
		t.Errorf("cursor at %d after g", got)
	}
}

func TestWatchRendersOnlyTheWindow(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 100, 20)
	update(t, m, batch(fleet(1000)...))
	s := screen(m)
	if lines := strings.Count(s, "\n") + 1; lines != 20 {
		t.Errorf("%d lines, want 20", lines)
	}
	mustContain(t, s, "dv-0000", "1000 · sorted by name")
	mustNotContain(t, s, "dv-0500")
	update(t, m, press("pgdown"))
	mustContain(t, screen(m), "dv-0016")
	mustNotContain(t, screen(m), "dv-0000")
	update(t, m, press("end"))
	mustContain(t, screen(m), "dv-0999")
}

func TestWatchResizeReflows(t *testing.T) {
	m := newTestWatch(t, WatchOptions{AllNamespaces: true}, 100, 20)
	update(t, m, batch(fleet(40)...))
	for _, size := range [][2]int{{60, 10}, {100, 20}, {160, 40}, {30, 8}} {
		update(t, m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		s := m.View().Content
		lines := strings.Split(s, "\n")
		if len(lines) != size[1] {
			t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for _, l := range lines {
			if w := ansi.StringWidth(l); w > size[0] {
				t.Errorf("%dx%d: line %d cells wide: %q", size[0], size[1], w, ansi.Strip(l))
			}
		}
	}
	update(t, m, tea.WindowSizeMsg{Width: 160, Height: 40})
	if !strings.Contains(screen(m), "dv-0030") {
		t.Error("a taller window shows no more rows")
	}
}

func TestWatchDetail(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 100, 40)
	update(t, m, batch(fleet(3)...), press("down"))
	for i := range 12 {
		update(t, m, batch(event(&instancev1.Event{
			Type: "Warning", Reason: "ErrImportFailed", DataVolume: "dv-0001", Namespace: "vms", Object: "Pod/importer-dv-0001",
			Message: fmt.Sprintf("restart %d", i), Count: 1, LastSeenAt: ts(time.Duration(12-i) * time.Minute),
		})))
	}
	update(t, m, batch(event(&instancev1.Event{Type: "Normal", Reason: "Other", DataVolume: "dv-0002", Namespace: "vms"})))
	update(t, m, press("enter"))
	if m.mode != modeDetail {
		t.Fatal("enter did not open the detail pane")
	}
	s := screen(m)
	mustContain(t, s, "dv-0001  namespace vms", "Phase    ImportInProgress", "1.00%", "Reason   Pod is running",
		"Size 10Gi   Mode Block   Age 5m",
		"Claim    dv-0001  Bound  10Gi  class ceph-block (Immediate)  Block",
		"Conditions", "Bound      True     Bound", "PVC dv-0001 Bound", "Running    True     Pod is running",
		"Ready      False", "Events (last 10)", "ErrImportFailed", "[Pod/importer-dv-0001] restart 11", "restart 2",
		"esc back")
	mustNotContain(t, s, "restart 1\n", "restart 0", "Other")
	if i, j := strings.Index(s, "restart 11"), strings.Index(s, "restart 10"); i > j {
		t.Error("events not newest first")
	}

	// Live updates reach the open pane, and a deletion is shown.
	update(t, m, batch(modified(importing("vms", "dv-0001", "77.00%"))))
	mustContain(t, screen(m), "77.00%")
	update(t, m, batch(deleted(importing("vms", "dv-0001", "77.00%"))))
	mustContain(t, screen(m), "(deleted)", "77.00%")

	update(t, m, press("esc"))
	if m.mode != modeTable {
		t.Error("esc did not go back")
	}
	update(t, m, press("enter"), press("backspace"))
	if m.mode != modeTable {
		t.Error("backspace did not go back")
	}
}

func TestWatchDetailScrolls(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 100, 12)
	update(t, m, batch(fleet(1)...), press("enter"))
	mustContain(t, screen(m), "dv-0000  namespace vms")
	update(t, m, press("end"))
	s := screen(m)
	mustContain(t, s, "Events (last 10)")
	mustNotContain(t, s, "dv-0000  namespace vms")
	update(t, m, press("home"))
	mustContain(t, screen(m), "dv-0000  namespace vms")
}

func TestWatchHelpToggles(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 100, 20)
	update(t, m, batch(fleet(30)...))
	mustContain(t, screen(m), "? help", "q quit")
	mustNotContain(t, screen(m), "page down")
	update(t, m, press("?"))
	mustContain(t, screen(m), "page down", "pgup", "g/home")
	if lines := strings.Count(screen(m), "\n") + 1; lines != 20 {
		t.Errorf("%d lines with full help, want 20", lines)
	}
	update(t, m, press("?"))
	mustNotContain(t, screen(m), "page down")
}

func TestWatchQuits(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		m := newTestWatch(t, WatchOptions{}, 100, 20)
		if _, cmd := m.Update(press(k)); !quits(cmd) {
			t.Errorf("%s does not quit", k)
		}
	}
	m := newTestWatch(t, WatchOptions{}, 100, 20)
	update(t, m, press("/"))
	if _, cmd := m.Update(press("ctrl+c")); !quits(cmd) {
		t.Error("ctrl+c does not quit while filtering")
	}
}

func TestWatchEnded(t *testing.T) {
	m := newTestWatch(t, WatchOptions{}, 100, 20)
	_, cmd := m.Update(dataVolumeEventsMsg{responses: fleet(2), closed: true})
	if cmd != nil {
		t.Error("re-armed a closed watch")
	}
	mustContain(t, screen(m), "watch ended", "dv-0001")
	m = newTestWatch(t, WatchOptions{}, 100, 20)
	update(t, m, watchClosedMsg{})
	mustContain(t, screen(m), "watch ended")
}

func TestWatchColours(t *testing.T) {
	colours := func(s string) bool { return strings.Contains(s, "38;2;") || strings.Contains(s, "38;5;") }
	tests := []struct {
		name string
		msgs []tea.Msg
		opts WatchOptions
		want bool
	}{
		{"true colour", []tea.Msg{tea.ColorProfileMsg{Profile: colorprofile.TrueColor}}, WatchOptions{}, true},
		{"ansi256", []tea.Msg{tea.ColorProfileMsg{Profile: colorprofile.ANSI256}}, WatchOptions{}, true},
		{"ascii", []tea.Msg{tea.ColorProfileMsg{Profile: colorprofile.ASCII}}, WatchOptions{}, false},
		{"NO_COLOR", []tea.Msg{tea.ColorProfileMsg{Profile: colorprofile.TrueColor}, tea.EnvMsg{"NO_COLOR=yes"}}, WatchOptions{}, false},
		{"option", []tea.Msg{tea.ColorProfileMsg{Profile: colorprofile.TrueColor}}, WatchOptions{NoColor: true}, false},
		{"before the profile is known", nil, WatchOptions{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestWatch(t, tt.opts, 100, 20)
			update(t, m, tt.msgs...)
			update(t, m, batch(fleet(5)...))
			s := m.View().Content
			if got := colours(s); got != tt.want {
				t.Errorf("colours = %v, want %v:\n%q", got, tt.want, s)
			}
			// The selected row stays visible without colour: reverse video.
			if !strings.Contains(s, "\x1b[7m") {
				t.Errorf("no reverse video for the selected row")
			}
		})
	}
}

func TestWatchCmdBatches(t *testing.T) {
	ch := make(chan *instancev1.WatchDataVolumesResponse, 10)
	for _, r := range fleet(4) { // 4 ADDED + SYNCED
		ch <- r
	}
	msg := watchCmd(ch, 3)()
	if got, ok := msg.(dataVolumeEventsMsg); !ok || len(got.responses) != 3 || got.closed {
		t.Fatalf("first burst = %#v", msg)
	}
	msg = watchCmd(ch, 0)()
	if got, ok := msg.(dataVolumeEventsMsg); !ok || len(got.responses) != 2 || got.closed {
		t.Fatalf("second burst = %#v", msg)
	}
	ch <- synced()
	close(ch)
	msg = watchCmd(ch, 0)()
	if got, ok := msg.(dataVolumeEventsMsg); !ok || len(got.responses) != 1 || !got.closed {
		t.Fatalf("last burst = %#v", msg)
	}
	if msg := watchCmd(ch, 0)(); msg != (watchClosedMsg{}) {
		t.Fatalf("after close = %#v", msg)
	}
	if watchCmd(nil, 0) != nil {
		t.Error("a nil channel gives a command")
	}
}

func TestWatchEventsKeepTheLastTen(t *testing.T) {
	var list []*instancev1.Event
	for i := range 15 {
		list = appendEvent(list, &instancev1.Event{Reason: "R", Message: fmt.Sprint(i)})
	}
	// A repeat of an event replaces it where it is (Kubernetes counts the
	// same Event up).
	list = appendEvent(list, &instancev1.Event{Reason: "R", Message: "7", Count: 2})
	if len(list) != maxEvents {
		t.Fatalf("%d events kept", len(list))
	}
	if list[0].GetMessage() != "5" || list[2].GetMessage() != "7" || list[2].GetCount() != 2 || list[9].GetMessage() != "14" {
		t.Errorf("kept %v", list)
	}
	// Another type, object or message is another event.
	list = appendEvent(list, &instancev1.Event{Type: "Warning", Reason: "R", Message: "7"})
	if list[9].GetType() != "Warning" || list[1].GetMessage() != "7" {
		t.Errorf("kept %v", list)
	}
}

// CDI repeats a failing import's ErrImportFailed on the prime claim every
// few seconds; the detail pane shows it on one line whose count goes up.
func TestWatchDetailCountsARepeatedEventUpInPlace(t *testing.T) {
	m := newTestWatch(t, WatchOptions{Namespace: "vms"}, 200, 30)
	update(t, m, batch(added(importing("vms", "web", "N/A")), synced()))
	failed := func(count int32, ago time.Duration) *instancev1.WatchDataVolumesResponse {
		return event(&instancev1.Event{
			Type: "Warning", Reason: "ErrImportFailed", DataVolume: "web", Namespace: "vms", Object: "PersistentVolumeClaim/prime-0a1b",
			Message: "Unable to connect to http data source: expected status code 200, got 404", Count: count, LastSeenAt: ts(ago),
		})
	}
	update(t, m, batch(failed(1, 4*time.Minute)))
	update(t, m, batch(event(&instancev1.Event{
		Type: "Normal", Reason: "ImportInProgress", DataVolume: "web", Namespace: "vms", Object: "DataVolume/web",
		Message: "Import into web in progress", Count: 1, LastSeenAt: ts(3 * time.Minute),
	})))
	for n := int32(2); n <= 17; n++ {
		update(t, m, batch(failed(n, 10*time.Second)))
	}
	update(t, m, press("enter"))
	s := screen(m)
	if got := strings.Count(s, "ErrImportFailed"); got != 1 {
		t.Errorf("ErrImportFailed on %d lines, want 1:\n%s", got, s)
	}
	mustContain(t, s, "10s    Warning  ErrImportFailed       [PersistentVolumeClaim/prime-0a1b] Unable to connect to http data source: expected status code 200, got 404 (x17)")
	mustNotContain(t, s, "(x16)", "(x2)")
	// It stays where it first appeared: below the newer ImportInProgress.
	if i, j := strings.Index(s, "ImportInProgress      Import"), strings.Index(s, "ErrImportFailed"); i < 0 || i > j {
		t.Errorf("the repeated event moved:\n%s", s)
	}
}
