package tui

import (
	"fmt"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// benchWatch is a watch view at a large terminal (200x60) with n
// DataVolumes, in colour, sorted by order.
func benchWatch(b *testing.B, n int, order sortOrder) (*WatchModel, []*instancev1.WatchDataVolumesResponse) {
	b.Helper()
	m := NewWatch(nil, WatchOptions{AllNamespaces: true, Now: fixedNow}).(*WatchModel)
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	m.Update(tea.ColorProfileMsg{Profile: colorprofile.TrueColor})
	m.Update(batch(fleet(n)...))
	for m.store.order != order {
		m.Update(press("s"))
	}
	// Each DataVolume's next state: progress moved on.
	updates := make([]*instancev1.WatchDataVolumesResponse, n)
	for i := range n {
		updates[i] = modified(importing("vms", fmt.Sprintf("dv-%04d", i), fmt.Sprintf("%d.50%%", (i*37)%100)))
	}
	return m, updates
}

// BenchmarkUpdateView1000 is the cost of one event at 1,000 DataVolumes:
// Update with one MODIFIED (each DataVolume in turn) and the View of the
// frame after it. The target is a frame under 16 ms.
func BenchmarkUpdateView1000(b *testing.B) {
	for _, order := range []sortOrder{byName, byProgress} {
		b.Run("sorted-by-"+order.String(), func(b *testing.B) {
			m, updates := benchWatch(b, 1000, order)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				m.Update(batch(updates[i%len(updates)]))
				_ = m.View()
			}
		})
	}
	b.Run("filtered", func(b *testing.B) {
		m, updates := benchWatch(b, 1000, byName)
		m.Update(press("/"))
		m.Update(press("1"))
		m.Update(press("enter"))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			m.Update(batch(updates[i%len(updates)]))
			_ = m.View()
		}
	})
}

// BenchmarkUpdateViewBurst1000 is one frame after all 1,000 DataVolumes
// changed at once (a burst the watch command batches into one message).
func BenchmarkUpdateViewBurst1000(b *testing.B) {
	m, updates := benchWatch(b, 1000, byProgress)
	msg := batch(updates...)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Update(msg)
		_ = m.View()
	}
}

// BenchmarkWaitUpdateView is one event on the wait view.
func BenchmarkWaitUpdateView(b *testing.B) {
	m := NewWait(nil, WaitOptions{Namespace: "vms", Name: "dv-0001", Now: fixedNow})
	m.Update(batch(fleet(2)...))
	msg := batch(modified(importing("vms", "dv-0001", "50.00%")))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Update(msg)
		_ = m.View()
	}
}
