package tui

import (
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// Outcome is how a wait ended.
type Outcome int

const (
	// Waiting: no outcome yet (the program was killed, or has not ended).
	Waiting Outcome = iota
	// Succeeded: the DataVolume reached phase Succeeded.
	Succeeded
	// Failed: the DataVolume reached phase Failed.
	Failed
	// TimedOut: WaitOptions.Timeout passed first. Reason is the phase the
	// DataVolume was left in and Message its progress.
	TimedOut
	// Blocked: the import cannot go on by itself (WaitForFirstConsumer,
	// PendingPopulation, a ProvisioningFailed or ErrClaimNotValid event).
	Blocked
	// Interrupted: the user pressed ctrl-c; the DataVolume is left alone.
	Interrupted
	// Deleted: the DataVolume was deleted while waiting (Reason "Deleted"),
	// or was not there when the watch's first list ended (Reason
	// "NotFound").
	Deleted
	// WatchEnded: the watch channel closed before any other outcome.
	WatchEnded
)

func (o Outcome) String() string {
	switch o {
	case Succeeded:
		return "Succeeded"
	case Failed:
		return "Failed"
	case TimedOut:
		return "TimedOut"
	case Blocked:
		return "Blocked"
	case Interrupted:
		return "Interrupted"
	case Deleted:
		return "Deleted"
	case WatchEnded:
		return "WatchEnded"
	default:
		return "Waiting"
	}
}

// WaitResult is how a wait ended: the outcome, a short reason (a CDI phase,
// condition reason or event reason) and a message for a person, with a hint
// where there is one.
type WaitResult struct {
	Outcome Outcome
	Reason  string
	Message string
}

// String reads as "Blocked: WaitForFirstConsumer: the claim binds when ...".
func (r WaitResult) String() string {
	parts := []string{r.Outcome.String()}
	if r.Reason != "" && r.Reason != r.Outcome.String() {
		parts = append(parts, r.Reason)
	}
	if r.Message != "" {
		parts = append(parts, r.Message)
	}
	return strings.Join(parts, ": ")
}

// Hints for blocking conditions.
const (
	HintWaitForFirstConsumer = "the claim binds when a VM uses it, or use --force-bind"
	HintPendingPopulation    = "the claim waits for its first consumer before it is populated; it binds when a VM uses it, or use --force-bind"
	MessageInterrupted       = "stopped waiting; the DataVolume is left as it is"
	MessageDeleted           = "the DataVolume was deleted while waiting"
	MessageNotFound          = "the DataVolume does not exist"
	MessageWatchEnded        = "the watch ended before the DataVolume finished"
)

// Classify decides whether a wait on dv is over, from the DataVolume's
// latest state and the recent events about it (oldest first). It holds the
// rules that the wait view and the plain-text wait share:
//
//   - phase Succeeded: Succeeded;
//   - phase Failed: Failed, with the Running/Ready condition's reason and
//     message;
//   - phase WaitForFirstConsumer or PendingPopulation: Blocked, with a hint;
//   - a ProvisioningFailed or ErrClaimNotValid event (newer than the
//     DataVolume itself, so events of an earlier DataVolume of the same name
//     do not count): Blocked, with the event's message;
//   - anything else: not done.
//
// Timeouts, ctrl-c, deletion and the end of the watch are the caller's to
// notice.
func Classify(dv *instancev1.DataVolume, events []*instancev1.Event) (done bool, res WaitResult) {
	if dv == nil {
		return false, WaitResult{}
	}
	switch dv.GetPhase() {
	case "Succeeded":
		return true, WaitResult{Outcome: Succeeded, Reason: "Succeeded"}
	case "Failed":
		res := WaitResult{Outcome: Failed, Reason: "Failed"}
		if c := statusCondition(dv); c != nil {
			if c.GetReason() != "" {
				res.Reason = clean(c.GetReason())
			}
			res.Message = strings.TrimSpace(clean(c.GetMessage()))
		}
		return true, res
	case "WaitForFirstConsumer":
		return true, WaitResult{Outcome: Blocked, Reason: "WaitForFirstConsumer", Message: HintWaitForFirstConsumer}
	case "PendingPopulation":
		return true, WaitResult{Outcome: Blocked, Reason: "PendingPopulation", Message: HintPendingPopulation}
	}
	var created time.Time
	if ts := dv.GetCreatedAt(); ts != nil {
		created = ts.AsTime()
	}
	for i := len(events) - 1; i >= 0; i-- {
		ev := events[i]
		switch ev.GetReason() {
		case "ProvisioningFailed", "ErrClaimNotValid":
		default:
			continue
		}
		if ts := ev.GetLastSeenAt(); ts != nil && !created.IsZero() && ts.AsTime().Before(created.Truncate(time.Second)) {
			continue
		}
		return true, WaitResult{Outcome: Blocked, Reason: ev.GetReason(), Message: strings.TrimSpace(clean(ev.GetMessage()))}
	}
	return false, WaitResult{}
}

// WaitOptions configure the wait view.
type WaitOptions struct {
	// Namespace and Name are the DataVolume waited on.
	Namespace, Name string
	// Timeout ends the wait with TimedOut; 0 waits for ever.
	Timeout time.Duration
	// NoColor turns colour off whatever the terminal supports.
	NoColor bool
	// Now is the clock for the elapsed time; nil means time.Now.
	Now func() time.Time
}

// waitTimeoutMsg says the wait's timeout passed.
type waitTimeoutMsg struct{}

// WaitModel is the compact view of one DataVolume until its import ends.
// After the program exits, Result says how.
type WaitModel struct {
	in     <-chan *instancev1.WatchDataVolumesResponse
	opts   WaitOptions
	start  time.Time
	width  int
	dv     *instancev1.DataVolume
	events []*instancev1.Event
	synced bool
	result WaitResult

	profile    colorprofile.Profile
	noColorEnv string
	dark       bool
	styles     styles
}

// NewWait returns the wait view for opts.Namespace/opts.Name, fed by events
// (responses about other DataVolumes are ignored). The program quits when
// the wait is over; read the outcome with Result.
func NewWait(events <-chan *instancev1.WatchDataVolumesResponse, opts WaitOptions) tea.Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &WaitModel{in: events, opts: opts, start: opts.Now(), width: 80, dark: true}
	m.restyle()
	return m
}

// WaitResultOf is the result of a model returned by NewWait (as
// tea.Program's Run hands it back); other models give the zero result.
func WaitResultOf(m tea.Model) WaitResult {
	if w, ok := m.(*WaitModel); ok {
		return w.Result()
	}
	return WaitResult{}
}

// Result is how the wait ended; Outcome is Waiting while it goes on.
func (m *WaitModel) Result() WaitResult { return m.result }

// DataVolume is the latest state seen of the DataVolume, or nil.
func (m *WaitModel) DataVolume() *instancev1.DataVolume { return m.dv }

func (m *WaitModel) restyle() {
	m.styles = newStyles(!m.opts.NoColor && colorOn(m.profile, m.noColorEnv), m.dark)
}

// Init starts reading the watch, the clock and the timeout.
func (m *WaitModel) Init() tea.Cmd {
	cmds := []tea.Cmd{watchCmd(m.in, defaultBatch), clockCmd(), tea.RequestBackgroundColor}
	if m.opts.Timeout > 0 {
		cmds = append(cmds, tea.Tick(m.opts.Timeout, func(time.Time) tea.Msg { return waitTimeoutMsg{} }))
	}
	return tea.Batch(cmds...)
}

func (m *WaitModel) finish(res WaitResult) (tea.Model, tea.Cmd) {
	m.result = res
	return m, tea.Quit
}

func (m *WaitModel) done() bool { return m.result.Outcome != Waiting }

// Update applies one message.
func (m *WaitModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m.done() {
		return m, nil
	}
	switch msg := msg.(type) {
	case dataVolumeEventsMsg:
		if res, ok := m.apply(msg.responses); ok {
			return m.finish(res)
		}
		if msg.closed {
			return m.finish(WaitResult{Outcome: WatchEnded, Reason: "WatchEnded", Message: MessageWatchEnded})
		}
		return m, watchCmd(m.in, defaultBatch)
	case watchClosedMsg:
		return m.finish(WaitResult{Outcome: WatchEnded, Reason: "WatchEnded", Message: MessageWatchEnded})
	case waitTimeoutMsg:
		return m.finish(WaitResult{Outcome: TimedOut, Reason: m.dv.GetPhase(), Message: progressText(m.dv.GetProgress())})
	case clockTickMsg:
		return m, clockCmd()
	case tea.WindowSizeMsg:
		m.width = msg.Width
	case tea.ColorProfileMsg:
		m.profile = msg.Profile
		m.restyle()
	case tea.EnvMsg:
		m.noColorEnv = msg.Getenv("NO_COLOR")
		m.restyle()
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.restyle()
	case tea.KeyPressMsg:
		if msg.String() == "ctrl+c" {
			return m.finish(WaitResult{Outcome: Interrupted, Reason: "Interrupted", Message: MessageInterrupted})
		}
	}
	return m, nil
}

// timeoutMessage says where the DataVolume was when the wait gave up.
func (m *WaitModel) timeoutMessage() string {
	msg := "timed out after " + m.opts.Timeout.String()
	if m.dv == nil {
		return msg + "; the DataVolume never appeared"
	}
	msg += "; the DataVolume is " + orDash(clean(m.dv.GetPhase()))
	if _, ok := parseProgress(m.dv.GetProgress()); ok {
		msg += " at " + strings.TrimSpace(m.dv.GetProgress())
	}
	return msg
}

// apply folds watch responses about the DataVolume in and says whether the
// wait is over.
func (m *WaitModel) apply(responses []*instancev1.WatchDataVolumesResponse) (WaitResult, bool) {
	mine := func(ns, name string) bool {
		return name == m.opts.Name && (m.opts.Namespace == "" || ns == m.opts.Namespace)
	}
	changed := false
	for _, r := range responses {
		switch r.GetType() {
		case instancev1.WatchDataVolumesResponse_ADDED, instancev1.WatchDataVolumesResponse_MODIFIED:
			if dv := r.GetDataVolume(); dv != nil && mine(dv.GetNamespace(), dv.GetName()) {
				m.dv, changed = dv, true
			}
		case instancev1.WatchDataVolumesResponse_DELETED:
			if dv := r.GetDataVolume(); mine(dv.GetNamespace(), dv.GetName()) {
				if dv != nil {
					m.dv = dv
				}
				return WaitResult{Outcome: Deleted, Reason: "Deleted", Message: MessageDeleted}, true
			}
		case instancev1.WatchDataVolumesResponse_EVENT:
			if ev := r.GetEvent(); ev != nil && mine(ev.GetNamespace(), ev.GetDataVolume()) {
				m.events, changed = appendEvent(m.events, ev), true
			}
		case instancev1.WatchDataVolumesResponse_SYNCED:
			m.synced = true
			if m.dv == nil {
				// The first list is complete and it is not in it; the
				// plain-text wait says the same.
				return WaitResult{Outcome: Deleted, Reason: "NotFound", Message: MessageNotFound}, true
			}
		}
	}
	if !changed {
		return WaitResult{}, false
	}
	done, res := Classify(m.dv, m.events)
	return res, done
}

// View draws the compact progress view; once the wait is over it is the
// last frame left on the terminal, outcome included.
func (m *WaitModel) View() tea.View {
	return tea.NewView(m.render())
}

func (m *WaitModel) render() string {
	st := m.styles
	var lines []string
	add := func(s string) { lines = append(lines, s) }
	elapsed := m.opts.Now().Sub(m.start).Round(time.Second)
	name := clean(m.opts.Name)
	if m.opts.Namespace != "" {
		name = clean(m.opts.Namespace) + "/" + name
	}
	dv := m.dv
	if dv == nil {
		state := "waiting for it to appear"
		if !m.synced {
			state = "waiting for the first list…"
		}
		add(st.bold.on(name) + "  " + st.faint.on(state+"  "+elapsed.String()))
	} else {
		barW := min(30, max(10, m.width-60))
		add(st.bold.on(name) + "  " + st.phasePaint(dv.GetPhase()).on(orDash(clean(dv.GetPhase()))) + "  " +
			st.bar(dv.GetProgress(), barW) + "  " + st.faint.on(elapsed.String()))
		if c := statusCondition(dv); c != nil && (c.GetReason() != "" || c.GetMessage() != "") {
			add("  " + orDash(clean(c.GetReason())) + messageSuffix(c.GetMessage()))
		}
		var facts []string
		if pvc := dv.GetPersistentVolumeClaim(); pvc != nil {
			claim := "claim " + st.claimPaint(pvc.GetStatus()).on(orDash(clean(pvc.GetStatus())))
			if pvc.GetCapacity() != "" {
				claim += " " + clean(pvc.GetCapacity())
			}
			facts = append(facts, claim)
		} else {
			facts = append(facts, "claim "+st.warn.on("not created yet"))
		}
		if size := humanBytes(dv.GetSizeBytes()); size != "" {
			facts = append(facts, "size "+size)
		}
		restarts := "restarts " + strconv.Itoa(int(dv.GetRestartCount()))
		if dv.GetRestartCount() > 0 {
			restarts = st.warn.on(restarts)
		}
		facts = append(facts, restarts)
		add("  " + strings.Join(facts, " · "))
	}
	// The latest warning says what is in the way, if anything is.
	for i := len(m.events) - 1; i >= 0; i-- {
		if ev := m.events[i]; ev.GetType() == "Warning" {
			add("  " + st.warn.on("! "+clean(ev.GetReason())) + messageSuffix(ev.GetMessage()))
			break
		}
	}
	if m.done() {
		add(m.outcomeLine())
	}
	out := strings.Join(lines, "\n")
	if m.width > 0 {
		var b strings.Builder
		for i, l := range strings.Split(out, "\n") {
			if i > 0 {
				b.WriteByte('\n')
			}
			// Wrap rather than cut: the last lines carry the reason
			// and the hint, the part a person must be able to read.
			b.WriteString(wrapWords(l, m.width))
		}
		out = b.String()
	}
	return out
}

func (m *WaitModel) outcomeLine() string {
	st := m.styles
	r := m.result
	switch r.Outcome {
	case Succeeded:
		return st.ok.on("✓ succeeded")
	case Blocked:
		return st.blocked.on("■ blocked: "+r.Reason) + messageSuffix(r.Message)
	case Interrupted, WatchEnded:
		return st.warn.on("■ " + r.Message)
	case TimedOut:
		return st.bad.on("✗ " + m.timeoutMessage())
	case Deleted:
		return st.bad.on("✗ " + r.Message)
	default:
		return st.bad.on("✗ "+strings.ToLower(r.Outcome.String())) + messageSuffix(strings.TrimSpace(reasonAndMessage(r)))
	}
}

func reasonAndMessage(r WaitResult) string {
	switch {
	case r.Reason != "" && r.Message != "" && r.Reason != r.Outcome.String():
		return r.Reason + ": " + r.Message
	case r.Message != "":
		return r.Message
	case r.Reason != r.Outcome.String():
		return r.Reason
	}
	return ""
}
