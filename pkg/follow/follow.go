// Package follow holds the one set of rules for following a DataVolume's
// import: when a wait is over and how it ended (Rules.Decide), and what the
// import is doing right now (Describe). The rules read what real CDI
// (v1.63.1) shows, as recorded in the repository's shared CDI.md: CDI never
// sets phase Failed for a failing import, it counts importer restarts and
// puts the importer's own words in the Running condition; an importer that
// cannot be scheduled shows Running=False with reason Unschedulable; a
// populator import starts with an empty phase.
//
// The rules work on the API's messages and know no front end: the wait view
// (pkg/tui), the plain lines and the CLI's exit codes (pkg/plugin) only
// render a Result. Hints name no CLI flag; a front end adds its own.
package follow

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// Outcome is how a wait ended.
type Outcome int

const (
	// Waiting: no outcome yet.
	Waiting Outcome = iota
	// Succeeded: the DataVolume reached phase Succeeded.
	Succeeded
	// Failed: the import failed: phase Failed (CDI sets it for a lost
	// claim and some clone failures), an importer failure retrying cannot
	// fix, or more importer restarts than Rules.MaxRestarts.
	Failed
	// TimedOut: the wait's time ran out first.
	TimedOut
	// Blocked: the import cannot go on by itself: the claim waits for a
	// first consumer, provisioning failed, the claim is not valid, or the
	// importer pod stayed unschedulable past Rules.UnschedulableGrace.
	Blocked
	// Interrupted: the user stopped waiting; the DataVolume is left alone.
	Interrupted
	// Deleted: the DataVolume was deleted while waiting (Reason
	// "Deleted"), or was not there when the watch's first list ended
	// (Reason "NotFound").
	Deleted
	// WatchEnded: the watch ended before any other outcome.
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

// Hint says what a person can do about a Result. Its String names no CLI
// flag; front ends may say it in their own terms.
type Hint int

const (
	NoHint Hint = iota
	// HintFirstConsumer: the claim's class binds on first use.
	HintFirstConsumer
	// HintPendingPopulation: the populator waits for a first consumer.
	HintPendingPopulation
	// HintSource: the import source refused the request (4xx).
	HintSource
	// HintRestarts: the importer kept failing.
	HintRestarts
	// HintUnschedulable: no node can run the importer pod.
	HintUnschedulable
)

func (h Hint) String() string {
	switch h {
	case HintFirstConsumer:
		return "the claim binds when a VM uses it, or when the DataVolume asks for immediate binding"
	case HintPendingPopulation:
		return "the claim is populated when a VM first uses it, or when the DataVolume asks for immediate binding"
	case HintSource:
		return "check the source URL and its access; CDI keeps retrying until the DataVolume is deleted"
	case HintRestarts:
		return "CDI keeps restarting the importer until the DataVolume is deleted"
	case HintUnschedulable:
		return "see the importer pod's FailedScheduling events; the import starts once a node can run it"
	}
	return ""
}

// Result is how a wait ended: the outcome, a short reason (a CDI phase,
// condition reason or event reason), a message (CDI's, the importer's or the
// scheduler's own words), the importer's restart count, and a hint.
type Result struct {
	Outcome  Outcome
	Reason   string
	Message  string
	Restarts int32
	Hint     Hint
}

// String reads as "Failed: Error: Unable to connect ... (3 restarts)".
func (r Result) String() string {
	parts := []string{r.Outcome.String()}
	if r.Reason != "" && r.Reason != r.Outcome.String() {
		parts = append(parts, r.Reason)
	}
	if d := r.Detail(); d != "" {
		parts = append(parts, d)
	}
	return strings.Join(parts, ": ")
}

// Detail is the message with the restart count when there were restarts.
func (r Result) Detail() string {
	msg := r.Message
	if r.Restarts > 0 {
		what := "restarts"
		if r.Restarts == 1 {
			what = "restart"
		}
		msg = strings.TrimSpace(msg + " (importer " + strconv.Itoa(int(r.Restarts)) + " " + what + ")")
	}
	return msg
}

// Messages of the outcomes that CDI's objects do not explain.
const (
	MessageInterrupted = "stopped waiting; the DataVolume is left as it is"
	MessageDeleted     = "the DataVolume was deleted while waiting"
	MessageNotFound    = "the DataVolume does not exist"
	MessageWatchEnded  = "the watch ended before the DataVolume finished"
)

// Rules decide when a wait is over.
type Rules struct {
	// MaxRestarts is how many importer restarts (status.restartCount) a
	// failing import may take before the wait ends as Failed. A failure
	// retrying cannot fix ends it at once.
	MaxRestarts int32
	// UnschedulableGrace is how long the importer pod may stay
	// unschedulable before the wait ends as Blocked: a pod whose claim is
	// still binding is briefly unschedulable on a healthy cluster.
	UnschedulableGrace time.Duration
}

// Defaults: five restarts take the kubelet's crash-loop back-off (10 s,
// doubling) about two and a half minutes, long enough to ride out a network
// error or a server restart and far shorter than the wait's 30 minutes; a
// minute covers a claim binding and the scheduler retrying.
const (
	DefaultMaxRestarts        = 5
	DefaultUnschedulableGrace = time.Minute
)

// DefaultRules are the rules with the defaults.
var DefaultRules = Rules{MaxRestarts: DefaultMaxRestarts, UnschedulableGrace: DefaultUnschedulableGrace}

// Reasons and phases CDI writes that the rules read.
const (
	// DataVolume phases (CDI's API, core/v1beta1 types.go).
	phaseSucceeded            = "Succeeded"
	phaseFailed               = "Failed"
	phaseWaitForFirstConsumer = "WaitForFirstConsumer"
	phasePendingPopulation    = "PendingPopulation"
	// Running=False reasons: the importer pod's termination
	// (pkg/controller/datavolume/controller-base.go copies the claim's
	// running-condition annotations that pkg/controller/import-controller.go
	// writes from the pod: reason "Error" with the termination message) and
	// an unschedulable importer ("Unschedulable", CDI.md).
	reasonError         = "Error"
	reasonUnschedulable = "Unschedulable"
)

// blockingEvents are event reasons that mean the claim cannot be provisioned
// as asked: the PV controller's ProvisioningFailed (a class that does not
// exist, CDI.md) and CDI's ErrClaimNotValid
// (pkg/controller/datavolume/controller-base.go).
var blockingEvents = map[string]bool{"ProvisioningFailed": true, "ErrClaimNotValid": true}

// httpStatus finds the status code in the importer's message for an HTTP
// source that answered something other than 200: "expected status code 200,
// got 404. Status: 404 Not Found" (CDI's pkg/importer/http-datasource.go).
var httpStatus = regexp.MustCompile(`expected status code 200, got (\d{3})`)

// Permanent says whether the importer's message shows a failure that
// retrying cannot fix: the source answered a 4xx other than 408 (timeout)
// and 429 (too many requests).
func Permanent(message string) bool {
	m := httpStatus.FindStringSubmatch(message)
	if m == nil {
		return false
	}
	code, _ := strconv.Atoi(m[1])
	return code >= 400 && code < 500 && code != 408 && code != 429
}

// Decide says whether a wait on dv is over at now, from the DataVolume's
// latest state and the recent events about it, its claims and its importer
// pod (oldest first):
//
//   - phase Succeeded: Succeeded;
//   - phase Failed: Failed, with the Running (else Ready) condition's
//     reason and message;
//   - phase WaitForFirstConsumer or PendingPopulation: Blocked;
//   - Running=False reason Error whose message shows a failure retrying
//     cannot fix: Failed at once, with the importer's message;
//   - more than MaxRestarts importer restarts: Failed, with the importer's
//     last message (the Running condition's, else the newest
//     ErrImportFailed or Error event's);
//   - Running=False reason Unschedulable for UnschedulableGrace (counted
//     from the condition's heartbeat, which CDI moves when the reason
//     changes): Blocked, with the scheduler's newest FailedScheduling
//     message;
//   - a ProvisioningFailed or ErrClaimNotValid event newer than the
//     DataVolume: Blocked, with the event's message;
//   - anything else: not over.
//
// Timeouts, interruption, deletion and the end of the watch are the
// caller's to notice.
func (r Rules) Decide(dv *instancev1.DataVolume, events []*instancev1.Event, now time.Time) (bool, Result) {
	if dv == nil {
		return false, Result{}
	}
	restarts := dv.GetRestartCount()
	switch dv.GetPhase() {
	case phaseSucceeded:
		return true, Result{Outcome: Succeeded, Reason: phaseSucceeded}
	case phaseFailed:
		res := Result{Outcome: Failed, Reason: phaseFailed, Restarts: restarts}
		if c := StatusCondition(dv); c != nil {
			if c.GetReason() != "" {
				res.Reason = c.GetReason()
			}
			res.Message = strings.TrimSpace(c.GetMessage())
		}
		return true, res
	case phaseWaitForFirstConsumer:
		return true, Result{Outcome: Blocked, Reason: phaseWaitForFirstConsumer, Hint: HintFirstConsumer}
	case phasePendingPopulation:
		return true, Result{Outcome: Blocked, Reason: phasePendingPopulation, Hint: HintPendingPopulation}
	}
	running := Condition(dv, "Running")
	if running.GetStatus() == "False" && running.GetReason() == reasonError && Permanent(running.GetMessage()) {
		return true, Result{Outcome: Failed, Reason: reasonError, Message: strings.TrimSpace(running.GetMessage()), Restarts: restarts, Hint: HintSource}
	}
	if restarts > r.MaxRestarts {
		res := Result{Outcome: Failed, Reason: reasonError, Restarts: restarts, Hint: HintRestarts}
		if running.GetStatus() == "False" && running.GetReason() == reasonError {
			res.Message = strings.TrimSpace(running.GetMessage())
		} else if ev := newest(events, dv, "ErrImportFailed", "Error"); ev != nil {
			res.Reason, res.Message = ev.GetReason(), strings.TrimSpace(ev.GetMessage())
		}
		if Permanent(res.Message) {
			res.Hint = HintSource
		}
		return true, res
	}
	if running.GetStatus() == "False" && running.GetReason() == reasonUnschedulable {
		since := running.GetHeartbeatAt().AsTime()
		if running.GetHeartbeatAt() == nil {
			since = running.GetTransitionedAt().AsTime()
		}
		if !now.Before(since.Add(r.UnschedulableGrace)) {
			res := Result{Outcome: Blocked, Reason: reasonUnschedulable, Message: strings.TrimSpace(running.GetMessage()), Hint: HintUnschedulable}
			if ev := newest(events, dv, "FailedScheduling"); ev != nil {
				res.Message = strings.TrimSpace(ev.GetMessage())
			}
			return true, res
		}
	}
	for i := len(events) - 1; i >= 0; i-- {
		ev := events[i]
		if !blockingEvents[ev.GetReason()] || stale(ev, dv) {
			continue
		}
		return true, Result{Outcome: Blocked, Reason: ev.GetReason(), Message: strings.TrimSpace(ev.GetMessage())}
	}
	return false, Result{}
}

// newest is the newest event of one of reasons that is not older than dv.
func newest(events []*instancev1.Event, dv *instancev1.DataVolume, reasons ...string) *instancev1.Event {
	for i := len(events) - 1; i >= 0; i-- {
		ev := events[i]
		for _, r := range reasons {
			if ev.GetReason() == r && !stale(ev, dv) {
				return ev
			}
		}
	}
	return nil
}

// stale says whether ev was last seen before dv was created: an event of an
// earlier DataVolume of the same name.
func stale(ev *instancev1.Event, dv *instancev1.DataVolume) bool {
	ts, created := ev.GetLastSeenAt(), dv.GetCreatedAt()
	return ts != nil && created != nil && ts.AsTime().Before(created.AsTime().Truncate(time.Second))
}

// Condition returns the DataVolume's condition of type typ, or nil.
func Condition(dv *instancev1.DataVolume, typ string) *instancev1.DataVolume_Condition {
	for _, c := range dv.GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	if c := dv.GetLastCondition(); c.GetType() == typ {
		return c
	}
	return nil
}

// StatusCondition is the condition that says what the import is doing:
// Running while it has a reason, else Ready, else Bound.
func StatusCondition(dv *instancev1.DataVolume) *instancev1.DataVolume_Condition {
	for _, typ := range []string{"Running", "Ready", "Bound"} {
		if c := Condition(dv, typ); c.GetReason() != "" || c.GetMessage() != "" {
			return c
		}
	}
	return dv.GetLastCondition()
}

// Phase is CDI's phase as a person reads it: an empty phase is Pending (the
// first state of a populator import, CDI.md).
func Phase(phase string) string {
	if phase == "" {
		return "Pending"
	}
	return phase
}

// Describe says what the import is doing: the phase (Pending while CDI has
// set none), and the reason and message of the condition that says most
// (StatusCondition); for an unschedulable importer the scheduler's newest
// FailedScheduling message, which says why. Before the importer runs, while
// CDI's conditions say no more than that the target claim is pending, it
// says what CDI's objects show instead: on the populator path the prime
// claim binding, then the importer pod pending.
func Describe(dv *instancev1.DataVolume, events []*instancev1.Event) *instancev1.DataVolume_ImportStatus {
	st := &instancev1.DataVolume_ImportStatus{Phase: Phase(dv.GetPhase())}
	c := StatusCondition(dv)
	if c != nil {
		st.Reason, st.Message = c.GetReason(), strings.TrimSpace(c.GetMessage())
	}
	switch {
	case st.Reason == reasonUnschedulable:
		if ev := newest(events, dv, "FailedScheduling"); ev != nil {
			st.Message = strings.TrimSpace(ev.GetMessage())
		}
	case c.GetType() == "Bound" || c == nil:
		imp := dv.GetImporter()
		switch phase := dv.GetPhase(); {
		case imp.GetPrimeClaim() != "" && (phase == "" || phase == "Pending"):
			// CDI schedules the import only once the prime claim is
			// bound (CDI.md, populator path).
			st.Reason, st.Message = "Pending", "waiting for claim "+imp.GetPrimeClaim()+" to bind; CDI imports into it, then hands its volume to the DataVolume's claim"
		case imp.GetPod() != "" && imp.GetPodPhase() == "Pending":
			st.Reason, st.Message = "Pending", "importer pod "+imp.GetPod()+" is Pending"
		}
	}
	return st
}
