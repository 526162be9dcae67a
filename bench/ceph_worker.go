package main

import (
	"fmt"
	"io"
	"time"
)

// inprocResult compares the worker (a Connect call over the socket pair to
// otterscale-ceph, which a worker.Pool in this process started) with the
// worker's own handlers called in this process (pkg/ceph's Connect: the
// same code without the process hop), and with bare go-ceph calls.
type inprocResult struct {
	skipped string
	n       int
	create  []callerTimes // the worker, in-process, bare go-ceph
	list    []callerTimes // the worker, in-process
	// listImage and listSnaps say what was listed.
	listImage string
	listSnaps int
	// equal says the worker's listing was the in-process one, field for
	// field (proto.Equal).
	equal bool
}

type callerTimes struct {
	label string
	times []time.Duration
}

// overhead is the median of a over the median of b, less one.
func overhead(a, b []time.Duration) float64 {
	ma, _ := percentiles(a)
	mb, _ := percentiles(b)
	return float64(ma)/float64(mb) - 1
}

func inprocSection(w io.Writer, r inprocResult) {
	fmt.Fprintln(w)
	if r.skipped != "" {
		fmt.Fprintf(w, "The Ceph worker against in-process: %s\n", r.skipped)
		return
	}
	fmt.Fprintf(w, "The Ceph worker against the same handlers in-process (a worker.Pool in the bench process, the worker already running;\n")
	fmt.Fprintf(w, "  in-process: pkg/ceph.Connect's handlers, the worker's own code without the process hop); N=%d of each, interleaved, rotated\n", r.n)
	for _, group := range []struct {
		what    string
		callers []callerTimes
		judged  bool
	}{
		{"CreateImageSnapshot (one snapshot more each call, its used bytes from one diff)", r.create, true},
		{fmt.Sprintf("ListImageSnapshots of %s, %d snapshots, used bytes cached (both sides warm; no target: for the RPC's cost per snapshot)", r.listImage, r.listSnaps), r.list, false},
	} {
		fmt.Fprintf(w, "  %s\n", group.what)
		for _, c := range group.callers {
			med, p90 := percentiles(c.times)
			fmt.Fprintf(w, "    %s: median %.2f ms, p90 %.2f ms\n", c.label, ms(med), ms(p90))
		}
		ov := overhead(group.callers[0].times, group.callers[1].times)
		med0, _ := percentiles(group.callers[0].times)
		med1, _ := percentiles(group.callers[1].times)
		line := fmt.Sprintf("    worker overhead over in-process: %+.1f%% (%+.2f ms on the median", 100*ov, ms(med0-med1))
		if group.judged {
			line += fmt.Sprintf("; target < %.0f%%: %s", 100*workerTarget, metOrMissed(ov < workerTarget))
		}
		fmt.Fprintln(w, line+")")
	}
	check := "the worker's listing equals the in-process one (proto.Equal)"
	if !r.equal {
		check = "FAIL: the worker's listing differs from the in-process one"
	}
	fmt.Fprintf(w, "  checked: %s\n", check)
}
