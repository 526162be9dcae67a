package tui

import (
	"strings"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// EventKey identifies an event across its repeats. Kubernetes records a
// repeat by counting up the Event it already has (count, last_seen_at), so
// the watch sends the same event again each time: same DataVolume, object,
// type, reason and message. Views show it once, with its latest count.
// Shared by the watch and wait views and the plain lines of both.
func EventKey(ev *instancev1.Event) string {
	return strings.Join([]string{
		ev.GetNamespace(), ev.GetDataVolume(), ev.GetObject(), ev.GetType(), ev.GetReason(), ev.GetMessage(),
	}, "\x00")
}
