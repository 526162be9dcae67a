package tui

import (
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/follow"
	"github.com/otterscale/kubectl-otterscale/pkg/human"
)

// WaitOptions configure the wait view.
type WaitOptions struct {
	// Namespace and Name are the DataVolume waited on.
	Namespace, Name string
	// Timeout ends the wait with TimedOut; 0 waits for ever.
	Timeout time.Duration
	// NoColor turns colour off whatever the terminal supports.
	NoColor bool
	// Rules decide when the wait is over (follow.DefaultRules when zero).
	Rules follow.Rules
	// Now is the clock for the elapsed time and the rules; nil means
	// time.Now.
	Now func() time.Time
	// Hint says a result's hint in the front end's words (naming its
	// flags); nil uses the hint's own words.
	Hint func(follow.Result) string
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
	wait   *follow.Wait
	result follow.Result

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
	if opts.Rules == (follow.Rules{}) {
		opts.Rules = follow.DefaultRules
	}
	m := &WaitModel{in: events, opts: opts, start: opts.Now(), width: 80, dark: true,
		wait: follow.NewWait(opts.Namespace, opts.Name, opts.Rules)}
	m.restyle()
	return m
}

// WaitResultOf is the result of a model returned by NewWait (as
// tea.Program's Run hands it back); other models give the zero result.
func WaitResultOf(m tea.Model) follow.Result {
	if w, ok := m.(*WaitModel); ok {
		return w.Result()
	}
	return follow.Result{}
}

// Result is how the wait ended; Outcome is Waiting while it goes on.
func (m *WaitModel) Result() follow.Result { return m.result }

// DataVolume is the latest state seen of the DataVolume, or nil.
func (m *WaitModel) DataVolume() *instancev1.DataVolume { return m.wait.DV }

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

func (m *WaitModel) finish(res follow.Result) (tea.Model, tea.Cmd) {
	m.result = res
	return m, tea.Quit
}

func (m *WaitModel) done() bool { return m.result.Outcome != follow.Waiting }

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
			return m.finish(follow.Result{Outcome: follow.WatchEnded, Reason: "WatchEnded", Message: follow.MessageWatchEnded})
		}
		return m, watchCmd(m.in, defaultBatch)
	case watchClosedMsg:
		return m.finish(follow.Result{Outcome: follow.WatchEnded, Reason: "WatchEnded", Message: follow.MessageWatchEnded})
	case waitTimeoutMsg:
		res := m.wait.TimedOut()
		res.Message = progressText(res.Message)
		return m.finish(res)
	case clockTickMsg:
		// A grace period can run out without a new message.
		if res, done := m.wait.Check(m.opts.Now()); done {
			return m.finish(res)
		}
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
			return m.finish(follow.Result{Outcome: follow.Interrupted, Reason: "Interrupted", Message: follow.MessageInterrupted})
		}
	}
	return m, nil
}

// timeoutMessage says where the DataVolume was when the wait gave up.
func (m *WaitModel) timeoutMessage() string {
	msg := "timed out after " + m.opts.Timeout.String()
	dv := m.wait.DV
	if dv == nil {
		return msg + "; the DataVolume never appeared"
	}
	msg += "; the DataVolume is " + clean(follow.Phase(dv.GetPhase()))
	if _, ok := parseProgress(dv.GetProgress()); ok {
		msg += " at " + strings.TrimSpace(dv.GetProgress())
	}
	if n := dv.GetRestartCount(); n > 0 {
		msg += ", importer restarted " + strconv.Itoa(int(n)) + "×"
	}
	return msg
}

// apply folds watch responses about the DataVolume in and says whether the
// wait is over.
func (m *WaitModel) apply(responses []*instancev1.WatchDataVolumesResponse) (follow.Result, bool) {
	now := m.opts.Now()
	for _, r := range responses {
		if res, done, _ := m.wait.Apply(r, now); done {
			return res, true
		}
	}
	return follow.Result{}, false
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
	dv := m.wait.DV
	if dv == nil {
		state := "waiting for it to appear"
		if !m.wait.Synced {
			state = "waiting for the first list…"
		}
		add(st.bold.on(name) + "  " + st.faint.on(state+"  "+elapsed.String()))
	} else {
		barW := min(30, max(10, m.width-60))
		now := follow.Describe(dv, m.wait.Events)
		add(st.bold.on(name) + "  " + st.phasePaint(now.Phase).on(clean(now.Phase)) + "  " +
			st.bar(dv.GetProgress(), barW) + "  " + st.faint.on(elapsed.String()))
		if now.Reason != "" || now.Message != "" {
			add("  " + orDash(clean(now.Reason)) + messageSuffix(now.Message))
		}
		var facts []string
		if pvc := dv.GetPersistentVolumeClaim(); pvc != nil {
			// The claim as CDI made it: its mode (the StorageProfile's
			// when the DataVolume asked none) and its size (filesystem
			// overhead included).
			claim := "claim " + st.claimPaint(pvc.GetStatus()).on(orDash(clean(pvc.GetStatus())))
			if mode := pvc.GetVolumeMode(); mode != "" {
				claim += " " + clean(mode)
			}
			if n := human.ClaimBytes(dv); n > 0 {
				claim += " " + human.Size(n)
			}
			facts = append(facts, claim)
		} else {
			facts = append(facts, "claim "+st.warn.on("not created yet"))
		}
		if size := human.Size(dv.GetSizeBytes()); size != "" {
			facts = append(facts, "asked "+size)
		}
		// While the DataVolume's own claim is unbound, CDI works through
		// its importer pod (and on the populator path a prime claim).
		if imp := dv.GetImporter(); imp.GetPod() != "" && dv.GetPersistentVolumeClaim().GetStatus() != "Bound" && dv.GetPhase() != "Succeeded" {
			facts = append(facts, "importer "+clean(imp.GetPod())+" "+orDash(clean(imp.GetPodPhase())))
		}
		restarts := "restarts " + strconv.Itoa(int(dv.GetRestartCount()))
		if dv.GetRestartCount() > 0 {
			restarts = st.warn.on(restarts)
		}
		facts = append(facts, restarts)
		add("  " + strings.Join(facts, " · "))
	}
	// The latest warning says what is in the way, if anything is.
	for i := len(m.wait.Events) - 1; i >= 0; i-- {
		if ev := m.wait.Events[i]; ev.GetType() == "Warning" {
			msg := ev.GetMessage()
			if n := ev.GetCount(); n > 1 {
				msg = strings.TrimSpace(msg) + " (x" + strconv.Itoa(int(n)) + ")"
			}
			add("  " + st.warn.on("! "+clean(ev.GetReason())) + messageSuffix(msg))
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
	case follow.Succeeded:
		return st.ok.on("✓ succeeded")
	case follow.Blocked:
		return st.blocked.on("■ blocked: "+r.Reason) + messageSuffix(joinHint(r.Detail(), m.hint(r)))
	case follow.Interrupted, follow.WatchEnded:
		return st.warn.on("■ " + r.Message)
	case follow.TimedOut:
		return st.bad.on("✗ " + m.timeoutMessage())
	case follow.Deleted:
		return st.bad.on("✗ " + r.Message)
	default:
		return st.bad.on("✗ "+strings.ToLower(r.Outcome.String())) + messageSuffix(joinHint(reasonAndDetail(r), m.hint(r)))
	}
}

// hint is the result's hint in the front end's words.
func (m *WaitModel) hint(r follow.Result) string {
	if m.opts.Hint != nil {
		return m.opts.Hint(r)
	}
	return r.Hint.String()
}

func joinHint(msg, hint string) string {
	switch {
	case hint == "":
		return msg
	case msg == "":
		return hint
	}
	return msg + "; " + hint
}

func reasonAndDetail(r follow.Result) string {
	d := r.Detail()
	switch {
	case r.Reason != "" && d != "" && r.Reason != r.Outcome.String():
		return r.Reason + ": " + d
	case d != "":
		return d
	case r.Reason != r.Outcome.String():
		return r.Reason
	}
	return ""
}
