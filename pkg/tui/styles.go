package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

// paint is a lipgloss style reduced to the escape sequences around its
// text, worked out once: rows are painted cell by cell every frame, and this
// keeps that to two string concatenations.
type paint struct{ open, close string }

func newPaint(st lipgloss.Style) paint {
	const mark = "X"
	r := st.Render(mark)
	i := strings.Index(r, mark)
	if i < 0 {
		return paint{}
	}
	return paint{open: r[:i], close: r[i+len(mark):]}
}

func (p paint) on(s string) string {
	if p.open == "" || s == "" {
		return s
	}
	return p.open + s + p.close
}

// styles are the colours of the views. With colour off (NO_COLOR, or a
// terminal profile without colours) only bold, faint and reverse remain.
type styles struct {
	title, header, faint, selected, bold paint
	ok, bad, warn, busy, blocked         paint
	barFull, barEmpty, barUnknown        paint
	help                                 help.Styles
}

func newStyles(color, dark bool) styles {
	st := lipgloss.NewStyle
	if !color {
		hs := help.Styles{
			ShortKey: st().Bold(true), FullKey: st().Bold(true),
		}
		return styles{
			title:    newPaint(st().Bold(true)),
			header:   newPaint(st().Bold(true)),
			faint:    paint{},
			selected: newPaint(st().Reverse(true)),
			bold:     newPaint(st().Bold(true)),
			bad:      newPaint(st().Bold(true)),
			blocked:  newPaint(st().Bold(true)),
			help:     hs,
		}
	}
	ld := lipgloss.LightDark(dark)
	c := func(light, dark string) lipgloss.Style {
		return st().Foreground(ld(lipgloss.Color(light), lipgloss.Color(dark)))
	}
	return styles{
		title:      newPaint(c("#5F00AF", "#AF87FF").Bold(true)),
		header:     newPaint(c("#585858", "#A8A8A8").Bold(true)),
		faint:      newPaint(c("#8A8A8A", "#767676")),
		selected:   newPaint(st().Reverse(true)),
		bold:       newPaint(st().Bold(true)),
		ok:         newPaint(c("#008700", "#5FD787")),
		bad:        newPaint(c("#D70000", "#FF5F5F").Bold(true)),
		warn:       newPaint(c("#AF5F00", "#FFAF00")),
		busy:       newPaint(c("#005FD7", "#5FAFFF")),
		blocked:    newPaint(c("#AF00AF", "#FF87FF")),
		barFull:    newPaint(c("#005FD7", "#5FAFFF")),
		barEmpty:   newPaint(c("#BCBCBC", "#444444")),
		barUnknown: newPaint(c("#8A8A8A", "#767676")),
		help:       help.DefaultStyles(dark),
	}
}

// colorOn says whether a terminal profile and environment allow colour.
// NO_COLOR counts when set to anything non-empty (no-color.org), which is
// broader than colorprofile's boolean reading of it.
func colorOn(p colorprofile.Profile, noColorEnv string) bool {
	return noColorEnv == "" && p > colorprofile.ASCII
}

// phasePaint picks the colour for a CDI phase.
func (s styles) phasePaint(phase string) paint {
	switch phase {
	case "Succeeded":
		return s.ok
	case "Failed", "Unknown":
		return s.bad
	case "WaitForFirstConsumer", "PendingPopulation", "Paused":
		return s.blocked
	case "Pending", "ImportScheduled", "CloneScheduled", "UploadScheduled", "":
		return s.warn
	default:
		return s.busy
	}
}

// claimPaint picks the colour for a claim's status.
func (s styles) claimPaint(status string) paint {
	switch status {
	case "Bound":
		return s.ok
	case "Lost":
		return s.bad
	default:
		return s.warn
	}
}
