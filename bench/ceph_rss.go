package main

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// rssResult is the peak resident memory (KiB) of `snapshot create`: the
// plugin's and its worker's, read separately, against `rbd snap create`.
type rssResult struct {
	skipped string
	runs    int
	plugin  []int64
	worker  []int64
	sum     []int64
	rbd     []int64
	// workers is the most worker processes one run started.
	workers int
}

// measureRSS runs `snapshot create` and `rbd snap create` in turns on the
// image with one snapshot and reads their peak resident memory.
func (b *cephBench) measureRSS(ctx context.Context) (res rssResult, err error) {
	res.runs = b.o.rssRuns
	restore, err := becomeSubreaper()
	if err != nil {
		res.skipped = "skipped: " + err.Error()
		return res, nil
	}
	defer restore()
	spec := func(who string, i int) string {
		return fmt.Sprintf("%s/%s@rss-%s-%d", b.ceph.Pool, fewImage, who, i)
	}
	for i := range b.o.rssRuns {
		for j := range 2 {
			if (i+j)%2 == 0 {
				t, err := b.peakOfTree(ctx, b.ours("snapshot", "create", spec("ours", i)))
				if err != nil {
					return res, err
				}
				res.plugin = append(res.plugin, t.plugin)
				res.worker = append(res.worker, t.worker)
				res.sum = append(res.sum, t.plugin+t.worker)
				res.workers = max(res.workers, t.workers)
				continue
			}
			t, err := b.peakOfTree(ctx, b.theirs("snap", "create", "--no-progress", spec("rbd", i)))
			if err != nil {
				return res, err
			}
			res.rbd = append(res.rbd, t.plugin)
		}
	}
	return res, nil
}

// treePeak is one run's peak memory, KiB.
type treePeak struct {
	plugin, worker int64 // the process started, and its workers summed
	workers        int
}

func medianKiB(v []int64) int64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func rssSection(w io.Writer, r rssResult) {
	fmt.Fprintln(w)
	if r.skipped != "" {
		fmt.Fprintf(w, "Peak memory of snapshot create: %s\n", r.skipped)
		return
	}
	fmt.Fprintf(w, "Peak memory of snapshot create on an image with 1 snapshot (peak RSS; N=%d of each, interleaved; median)\n", r.runs)
	fmt.Fprintf(w, "  kubectl-otterscale snapshot create, the plugin process: %.1f MiB\n", mib(medianKiB(r.plugin)))
	fmt.Fprintf(w, "  kubectl-otterscale snapshot create, its otterscale-ceph worker: %.1f MiB\n", mib(medianKiB(r.worker)))
	fmt.Fprintf(w, "  kubectl-otterscale snapshot create, plugin + worker: %.1f MiB\n", mib(medianKiB(r.sum)))
	fmt.Fprintf(w, "  rbd snap create: %.1f MiB\n", mib(medianKiB(r.rbd)))
	fmt.Fprintf(w, "  ratio plugin + worker / rbd snap create: %.2f\n", float64(medianKiB(r.sum))/float64(medianKiB(r.rbd)))
	fmt.Fprintf(w, "  (how: VmHWM in /proc/PID/status of each process, read every ms until it is gone; %d worker a run at most. Not ru_maxrss:\n", r.workers)
	fmt.Fprintf(w, "  a process Go's os/exec starts (clone with CLONE_VM) reports its parent's peak there when that is higher)\n")
}
