package tui

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/follow"
	"github.com/otterscale/kubectl-otterscale/pkg/human"
)

// detailLines renders the detail pane of the selected DataVolume: its
// status, claim, every condition and its recent events.
func (m *WatchModel) detailLines() []string {
	dv := m.detailDV
	st := m.styles
	now := m.opts.Now()
	var lines []string
	add := func(s string) { lines = append(lines, s) }
	field := func(label, value string) {
		add("  " + st.faint.on(fit(label, 9)) + value)
	}

	head := st.bold.on(clean(dv.GetName())) + "  " + st.faint.on("namespace "+clean(dv.GetNamespace()))
	if m.detailGone {
		head += "  " + st.bad.on("(deleted)")
	}
	add(head)
	restarts := strconv.Itoa(int(dv.GetRestartCount()))
	if dv.GetRestartCount() > 0 {
		restarts = st.warn.on(restarts)
	}
	// Size and mode are the claim's once CDI made it; the size the
	// DataVolume asked for follows when the claim's differs.
	size := orDash(human.Size(human.DiskBytes(dv)))
	if asked := human.Size(dv.GetSizeBytes()); asked != "" && human.ClaimBytes(dv) > 0 && human.ClaimBytes(dv) != dv.GetSizeBytes() {
		size += st.faint.on(" (asked " + asked + ")")
	}
	field("Phase", st.phasePaint(dv.GetPhase()).on(human.Phase(clean(dv.GetPhase())))+
		"   "+st.faint.on("Restarts ")+restarts+
		"   "+st.faint.on("Size ")+size+
		"   "+st.faint.on("Mode ")+orDash(clean(human.VolumeMode(dv)))+
		"   "+st.faint.on("Age ")+orDash(ageOf(now, dv.GetCreatedAt())))
	field("Progress", st.bar(dv.GetProgress(), 30))
	if now := follow.Describe(dv, m.events[m.detailKey]); now.GetReason() != "" || now.GetMessage() != "" {
		field("Reason", clean(now.GetReason())+messageSuffix(now.GetMessage()))
	}
	if imp := dv.GetImporter(); imp.GetPod() != "" && dv.GetPersistentVolumeClaim().GetStatus() != "Bound" && dv.GetPhase() != "Succeeded" {
		importer := clean(imp.GetPod()) + "  " + orDash(clean(imp.GetPodPhase()))
		if imp.GetPrimeClaim() != "" {
			importer += st.faint.on("   prime claim ") + clean(imp.GetPrimeClaim())
		}
		field("Importer", importer)
	}
	if src := sourceText(dv.GetSource()); src != "" {
		field("Source", src)
	}
	if pvc := dv.GetPersistentVolumeClaim(); pvc != nil {
		claim := clean(pvc.GetName()) + "  " + st.claimPaint(pvc.GetStatus()).on(orDash(clean(pvc.GetStatus())))
		if n := human.ClaimBytes(dv); n > 0 {
			claim += "  " + human.Size(n)
		}
		sc := pvc.GetStorageClass().GetName()
		if sc == "" {
			sc = dv.GetStorageClass()
		}
		if sc != "" {
			claim += "  " + st.faint.on("class ") + clean(sc)
			if mode := pvc.GetStorageClass().GetVolumeBindingMode(); mode != "" {
				claim += " (" + clean(mode) + ")"
			}
		}
		if vm := pvc.GetVolumeMode(); vm != "" {
			claim += "  " + clean(vm)
		}
		if pv := pvc.GetVolumeName(); pv != "" {
			claim += "  " + st.faint.on("volume ") + clean(pv)
		}
		field("Claim", claim)
	} else {
		field("Claim", st.warn.on("not created yet"))
	}

	add("")
	add(st.header.on("Conditions"))
	conds := dv.GetConditions()
	if len(conds) == 0 && dv.GetLastCondition() != nil {
		conds = []*instancev1.DataVolume_Condition{dv.GetLastCondition()}
	}
	if len(conds) == 0 {
		add("  " + st.faint.on("none yet"))
	} else {
		add("  " + st.faint.on(fit("TYPE", 9)+"  "+fit("STATUS", 7)+"  "+fit("REASON", 20)+"  "+fit("AGE", 5)+"  MESSAGE"))
		for _, c := range conds {
			status := fit(c.GetStatus(), 7)
			if c.GetStatus() == "True" {
				status = st.ok.on(status)
			}
			age := orDash(ageOf(now, c.GetTransitionedAt()))
			add("  " + fit(clean(c.GetType()), 9) + "  " + status + "  " + fit(orDash(clean(c.GetReason())), 20) +
				"  " + fit(age, 5) + "  " + clean(c.GetMessage()))
		}
	}

	add("")
	events := m.events[m.detailKey]
	add(st.header.on("Events") + st.faint.on(" (last "+strconv.Itoa(maxEvents)+")"))
	if len(events) == 0 {
		add("  " + st.faint.on("none seen since the watch began"))
	} else {
		add("  " + st.faint.on(fit("AGE", 5)+"  "+fit("TYPE", 7)+"  "+fit("REASON", 20)+"  MESSAGE"))
		for i := len(events) - 1; i >= 0; i-- { // newest first
			ev := events[i]
			age := orDash(ageOf(now, ev.GetLastSeenAt()))
			typ := fit(clean(ev.GetType()), 7)
			if ev.GetType() == "Warning" {
				typ = st.warn.on(typ)
			}
			msg := clean(ev.GetMessage())
			if n := ev.GetCount(); n > 1 {
				msg += " (x" + strconv.Itoa(int(n)) + ")"
			}
			if obj := ev.GetObject(); obj != "" && !strings.HasPrefix(obj, "DataVolume/") {
				msg = "[" + clean(obj) + "] " + msg
			}
			add("  " + fit(age, 5) + "  " + typ + "  " + fit(clean(ev.GetReason()), 20) + "  " + msg)
		}
	}
	return lines
}

// ageOf is human.Age of a timestamp the API may leave out.
func ageOf(now time.Time, ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return human.Age(now, ts.AsTime())
}

func messageSuffix(msg string) string {
	if msg = strings.TrimSpace(clean(msg)); msg != "" {
		return ": " + msg
	}
	return ""
}

// sourceText says where the DataVolume's data comes from.
func sourceText(src *instancev1.DataVolume_Source) string {
	if src == nil {
		return ""
	}
	switch src.GetType() {
	case instancev1.DataVolume_Source_HTTP_URL:
		return "http " + clean(src.GetData())
	case instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM:
		return "clone of claim " + clean(src.GetData())
	default:
		return "blank image"
	}
}
