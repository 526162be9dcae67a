package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/follow"
)

// defaultBatch bounds how many watch responses one message carries, so a
// long burst still yields a frame now and then.
const defaultBatch = 512

// dataVolumeEventsMsg is a burst of watch responses read in one go; closed
// says the channel was closed right after them.
type dataVolumeEventsMsg struct {
	responses []*instancev1.WatchDataVolumesResponse
	closed    bool
}

// watchClosedMsg says the watch channel closed: the watch is over.
type watchClosedMsg struct{}

// clockTickMsg refreshes what depends on the clock (ages, elapsed time).
type clockTickMsg time.Time

// watchCmd reads the next burst of responses: it blocks for one, then takes
// whatever else is ready (up to limit) without waiting, so that the program
// renders one frame per burst rather than one per event. The model re-arms
// it after each message (bubbletea's examples/realtime pattern).
func watchCmd(events <-chan *instancev1.WatchDataVolumesResponse, limit int) tea.Cmd {
	if events == nil {
		return nil
	}
	if limit <= 0 {
		limit = defaultBatch
	}
	return func() tea.Msg {
		first, ok := <-events
		if !ok {
			return watchClosedMsg{}
		}
		batch := []*instancev1.WatchDataVolumesResponse{first}
		for len(batch) < limit {
			select {
			case r, ok := <-events:
				if !ok {
					return dataVolumeEventsMsg{responses: batch, closed: true}
				}
				batch = append(batch, r)
			default:
				return dataVolumeEventsMsg{responses: batch}
			}
		}
		return dataVolumeEventsMsg{responses: batch}
	}
}

// clockCmd ticks once a second.
func clockCmd() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return clockTickMsg(t) })
}

// dvKey identifies a DataVolume across messages.
func dvKey(namespace, name string) string {
	return namespace + "/" + name
}

// maxEvents is how many recent events are kept per DataVolume.
const maxEvents = 10

// appendEvent keeps the last maxEvents events. A repeat of one already
// kept (see EventKey) replaces it where it is, so its line shows the new
// count and age without moving or adding a line.
func appendEvent(list []*instancev1.Event, ev *instancev1.Event) []*instancev1.Event {
	key := follow.EventKey(ev)
	for i, old := range list {
		if follow.EventKey(old) == key {
			list[i] = ev
			return list
		}
	}
	list = append(list, ev)
	if len(list) > maxEvents {
		list = append(list[:0], list[len(list)-maxEvents:]...)
	}
	return list
}
