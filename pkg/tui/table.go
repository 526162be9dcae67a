package tui

import (
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/otterscale/kubectl-otterscale/pkg/human"
)

const (
	gap      = 2 // spaces between columns
	pctWidth = 7 // "100.00%"
)

// columns are the widths of the table's columns; 0 hides a column (the
// namespace column without AllNamespaces, and the least needed ones on a
// narrow terminal). Name, phase and progress are always shown.
type columns struct {
	name, ns, phase, bar, reason, restarts, claim, size, mode, age int
}

func (c columns) total() int {
	t := c.name + gap + c.phase + gap + c.bar + 1 + pctWidth
	for _, w := range []int{c.ns, c.reason, c.restarts, c.claim, c.size, c.mode, c.age} {
		if w > 0 {
			t += gap + w
		}
	}
	return t
}

// layout fits the columns to the terminal. What gives way first is what a
// person misses least: bar length, the tails of long phases and reasons,
// then whole columns (mode, size, then claim, age, restarts, reason), and
// names last.
func layout(s *store, width int, allNamespaces bool) columns {
	c := columns{
		name:     min(max(s.maxName, 4), 40),
		phase:    min(max(s.maxPhase, 5), 20),
		bar:      20,
		reason:   min(max(s.maxReason, 6), 24),
		restarts: len("RESTARTS"),
		claim:    min(max(s.maxClaim, 5), 8),
		size:     6, // "1.06Gi"
		mode:     min(max(s.maxMode, 4), 10),
		age:      5,
	}
	if allNamespaces {
		c.ns = min(max(s.maxNamespace, len("NAMESPACE")), 20)
	}
	want := c
	over := func() bool { return c.total() > width }
	shrink := func(w *int, floor int) {
		if o := c.total() - width; o > 0 && *w > floor {
			*w = max(floor, *w-o)
		}
	}
	hide := func(w *int) {
		if over() {
			*w = 0
		}
	}
	shrink(&c.bar, 10)
	shrink(&c.phase, 16)
	shrink(&c.reason, 12)
	shrink(&c.name, 16)
	if c.ns > 0 {
		shrink(&c.ns, len("NAMESPACE"))
	}
	hide(&c.mode)
	hide(&c.size)
	shrink(&c.bar, 6)
	shrink(&c.reason, 8)
	hide(&c.claim)
	hide(&c.age)
	hide(&c.restarts)
	hide(&c.reason)
	shrink(&c.phase, 10)
	if c.ns > 0 {
		shrink(&c.ns, 6)
	}
	shrink(&c.name, 8)
	shrink(&c.phase, 6)
	shrink(&c.name, 4)
	// Hiding a column may have left room that an earlier shrink took:
	// give it back, to the reason first.
	grow := func(w *int, want int) {
		if *w > 0 {
			*w = min(want, *w+max(0, width-c.total()))
		}
	}
	grow(&c.reason, want.reason)
	grow(&c.phase, want.phase)
	grow(&c.name, want.name)
	grow(&c.bar, want.bar)
	return c
}

// width is the cells s takes; plain ASCII, which most cells are, is
// counted without the grapheme machinery.
func width(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c < 0x20 || c == 0x7f {
			return ansi.StringWidth(s)
		}
	}
	return len(s)
}

// fit pads or truncates s to exactly w cells.
func fit(s string, w int) string {
	n := width(s)
	switch {
	case n == w:
		return s
	case n < w:
		return s + strings.Repeat(" ", w-n)
	default:
		return ansi.Truncate(s, w, "…")
	}
}

// fitRight right-aligns s in w cells.
func fitRight(s string, w int) string {
	n := width(s)
	if n >= w {
		return fit(s, w)
	}
	return strings.Repeat(" ", w-n) + s
}

// bar draws a progress bar w cells wide and the percentage after it. "N/A"
// or an empty progress draws a dashed bar: CDI cannot tell how far along it
// is (e.g. an image without a known size).
func (s styles) bar(progress string, w int) string {
	pct, ok := parseProgress(progress)
	if !ok {
		return s.barUnknown.on(strings.Repeat("╌", w)) + " " + fitRight("N/A", pctWidth)
	}
	full := min(w, int(pct/100*float64(w)+0.5))
	if pct > 0 && full == 0 {
		full = 1 // something moved; show it
	}
	return s.barFull.on(strings.Repeat("█", full)) + s.barEmpty.on(strings.Repeat("░", w-full)) +
		" " + fitRight(strings.TrimSpace(progress), pctWidth)
}

// header renders the column titles.
func (c columns) header() string {
	var b strings.Builder
	b.WriteString(fit("NAME", c.name))
	cell := func(s string, w int) {
		if w > 0 {
			b.WriteString("  ")
			b.WriteString(fit(s, w))
		}
	}
	cell("NAMESPACE", c.ns)
	cell("PHASE", c.phase)
	cell("PROGRESS", c.bar+1+pctWidth)
	cell("REASON", c.reason)
	cell("RESTARTS", c.restarts)
	cell("CLAIM", c.claim)
	cell("SIZE", c.size)
	cell("MODE", c.mode)
	cell("AGE", c.age)
	return strings.TrimRight(b.String(), " ")
}

// renderRow writes one table row; st is the zero styles for the selected
// row, which is painted as a whole.
func renderRow(b *strings.Builder, r *row, c columns, st styles, now time.Time) {
	dv := r.dv
	b.WriteString(fit(dv.GetName(), c.name))
	if c.ns > 0 {
		b.WriteString("  ")
		b.WriteString(st.faint.on(fit(dv.GetNamespace(), c.ns)))
	}
	b.WriteString("  ")
	b.WriteString(st.phasePaint(dv.GetPhase()).on(fit(human.Phase(dv.GetPhase()), c.phase)))
	b.WriteString("  ")
	b.WriteString(st.bar(dv.GetProgress(), c.bar))
	if c.reason > 0 {
		b.WriteString("  ")
		b.WriteString(fit(r.reason, c.reason))
	}
	if c.restarts > 0 {
		b.WriteString("  ")
		restarts := fitRight(strconv.Itoa(int(dv.GetRestartCount())), c.restarts)
		if dv.GetRestartCount() > 0 {
			restarts = st.warn.on(restarts)
		}
		b.WriteString(restarts)
	}
	if c.claim > 0 {
		b.WriteString("  ")
		claim := dv.GetPersistentVolumeClaim().GetStatus()
		b.WriteString(st.claimPaint(claim).on(fit(orDash(claim), c.claim)))
	}
	if c.size > 0 {
		b.WriteString("  ")
		b.WriteString(fit(orDash(human.Size(human.DiskBytes(dv))), c.size))
	}
	if c.mode > 0 {
		b.WriteString("  ")
		b.WriteString(fit(orDash(clean(human.VolumeMode(dv))), c.mode))
	}
	if c.age > 0 {
		b.WriteString("  ")
		b.WriteString(truncate(orDash(human.Age(now, r.created)), c.age)) // last: no padding
	}
}

// truncate cuts a line with escape sequences to w cells.
func truncate(s string, w int) string {
	return ansi.Truncate(s, w, "…")
}

// wrapWords breaks a line at spaces so that no line is wider than w cells;
// unlike ansi.Wrap it never breaks at a hyphen, so "--force-bind" stays
// whole. Continuation lines are indented by two spaces.
func wrapWords(s string, w int) string {
	if w <= 0 || ansi.StringWidth(s) <= w {
		return s
	}
	var b strings.Builder
	col := 0
	for i, word := range strings.Split(s, " ") {
		ww := ansi.StringWidth(word)
		if i > 0 {
			if col+1+ww > w {
				b.WriteString("\n  ")
				col = 2
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		if col+ww > w {
			word = truncate(word, max(1, w-col))
			ww = ansi.StringWidth(word)
		}
		b.WriteString(word)
		col += ww
	}
	return b.String()
}
