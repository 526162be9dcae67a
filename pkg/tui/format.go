package tui

import (
	"strconv"
	"strings"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/follow"
	"github.com/otterscale/kubectl-otterscale/pkg/human"
)

// parseProgress reads CDI's status.progress ("45.67%"). ok is false for
// "N/A", an empty string or anything else that is not a percentage.
func parseProgress(s string) (pct float64, ok bool) {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, "%") {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, false
	}
	return min(max(v, 0), 100), true
}

// progressText is what the progress column says: CDI's own string, or N/A.
func progressText(s string) string {
	if _, ok := parseProgress(s); ok {
		return strings.TrimSpace(s)
	}
	return "N/A"
}

// reasonOf is why the import is where it is (follow.Describe): the
// Running (else Ready, else Bound) condition's reason, or what CDI's
// objects show before the importer runs.
func reasonOf(dv *instancev1.DataVolume) string {
	return follow.Describe(dv, nil).GetReason()
}

// clean makes text from the API server safe to print: control characters
// (escape sequences included) are dropped and line breaks become spaces, so
// a message can neither break a table row nor drive the terminal.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// orDash keeps empty fields visible in space-separated output.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// PlainLine is one DataVolume as a line of plain text, for watch and wait
// off a terminal: name, phase (Pending while CDI has set none), progress
// and the reason (follow.Describe),
// separated by two spaces, with the namespace first when allNamespaces and
// "restarts=N" last once the importer has restarted. Empty fields print as
// "-". The line never contains escape sequences or line breaks.
//
//	dv1  ImportInProgress  45.67%  Pod is running
func PlainLine(dv *instancev1.DataVolume, allNamespaces bool) string {
	fields := make([]string, 0, 6)
	if allNamespaces {
		fields = append(fields, orDash(clean(dv.GetNamespace())))
	}
	fields = append(fields,
		orDash(clean(dv.GetName())),
		human.Phase(clean(dv.GetPhase())),
		progressText(dv.GetProgress()),
		orDash(clean(reasonOf(dv))),
	)
	if n := dv.GetRestartCount(); n > 0 {
		fields = append(fields, "restarts="+strconv.Itoa(int(n)))
	}
	return strings.Join(fields, "  ")
}

// PlainEvent is one Kubernetes event about a DataVolume as a line of plain
// text: the DataVolume, the event's type (Normal or Warning), reason and
// message, and "(xN)" when it was seen more than once. Like PlainLine it
// never contains escape sequences or line breaks.
//
//	dv1  Warning  ProvisioningFailed  storageclass "fast" not found (x3)
func PlainEvent(ev *instancev1.Event) string {
	fields := []string{
		orDash(clean(ev.GetDataVolume())),
		orDash(clean(ev.GetType())),
		orDash(clean(ev.GetReason())),
	}
	msg := strings.TrimSpace(clean(ev.GetMessage()))
	if n := ev.GetCount(); n > 1 {
		msg = strings.TrimSpace(msg + " (x" + strconv.Itoa(int(n)) + ")")
	}
	if msg != "" {
		fields = append(fields, msg)
	}
	return strings.Join(fields, "  ")
}
