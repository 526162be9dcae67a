package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

const (
	waitNamespace = "bench-wait"
	waitName      = "import-1"
	// waitStep is how often the simulated import reports progress.
	waitStep = 5 * time.Second
	// virtctlPoll is the interval virtctl documents for following an
	// upload or import: a GET of the DataVolume every 2 s, 30 a minute.
	virtctlPoll = 2 * time.Second
)

// waitResult is what the wait benchmark measured.
type waitResult struct {
	elapsed    time.Duration      // from starting the plugin to its exit
	succeeded  time.Duration      // from starting the plugin to cdisim's Succeeded
	steps      int                // progress updates cdisim made
	lines      int                // lines the plugin printed
	plugin     counts             // reads on the watched resources not made by cdisim
	sim        counts             // cdisim's requests (all of them, client-side)
	server     counts             // the API server's totals on the watched resources
	cacheLists counts             // lists the server answered from its watch cache
	relabelled map[string]float64 // lists the server labelled GET, by resource
}

// measureWait creates a DataVolume, starts `kubectl-otterscale dv wait` on
// it off a terminal, has cdisim move the import along for d and then
// succeed, and counts the requests the API server served meanwhile on the
// resources the plugin watches. cdisim's own reads (it reads a DataVolume
// before each status write) are counted on its side and subtracted; nothing
// else touches those resources while this runs.
func measureWait(ctx context.Context, r *runner, env *testenv.Env, d time.Duration) (res waitResult, err error) {
	metrics, err := newServerMetrics(env.Config, env.Server)
	if err != nil {
		return res, err
	}
	simCounter := newRequestCounter()
	sim, err := cdisim.New(simCounter.wrap(env.Config))
	if err != nil {
		return res, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: waitNamespace}}
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return res, fmt.Errorf("create namespace %s: %w", waitNamespace, err)
	}
	if _, err := r.time(ctx, []string{"kubectl-otterscale", "dv", "create", waitName, "--size", "1Gi", "-n", waitNamespace}); err != nil {
		return res, err
	}
	// CDI's first steps, before anyone waits: the claims, the importer
	// pod, the claim it writes to bound and the import scheduled.
	if err := sim.Start(ctx, waitNamespace, waitName); err != nil {
		return res, err
	}
	if err := sim.Schedule(ctx, waitNamespace, waitName); err != nil {
		return res, err
	}

	// Every watch on the resources has ended (none should be open), so the
	// totals before are complete.
	before, err := settled(ctx, metrics, nil)
	if err != nil {
		return res, err
	}
	simBefore := simCounter.snapshot()

	argv := []string{"kubectl-otterscale", "dv", "wait", waitName, "-n", waitNamespace, "--timeout", "2m"}
	firstLine := make(chan struct{})
	start := time.Now()
	lines := 0 // the reader's; read once the process has exited
	p, err := r.start(ctx, argv, func([]byte) {
		if lines++; lines == 1 {
			close(firstLine)
		}
	})
	if err != nil {
		return res, err
	}
	defer p.stop()
	// failed stops the plugin and says what it wrote.
	failed := func(err error) error {
		err = p.failed(err) // stops it first, so lines is settled
		return fmt.Errorf("%w\n(it printed %d lines)", err, lines)
	}
	exitedEarly := func(what string) error {
		return failed(fmt.Errorf("exited %s: %v", what, p.err))
	}

	// The plugin prints its first line once it has listed and is watching.
	select {
	case <-firstLine:
	case <-p.exited:
		return res, exitedEarly("before printing anything")
	case <-time.After(30 * time.Second):
		return res, failed(errors.New("printed nothing within 30 s"))
	case <-ctx.Done():
		return res, ctx.Err()
	}

	// The import: progress every waitStep, then success at d.
	steps := int(d / waitStep)
	tick := time.NewTicker(waitStep)
	defer tick.Stop()
	for i := 1; i <= steps; i++ {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-p.exited:
			return res, exitedEarly("before the import ended")
		case <-tick.C:
		}
		if i == steps {
			break // the last step is the success, below
		}
		// The first progress starts the importer, with CDI's
		// ImportInProgress event.
		pct := 100 * float64(i) / float64(steps)
		if err := sim.Progress(ctx, waitNamespace, waitName, math.Round(pct*100)/100); err != nil {
			return res, err
		}
		res.steps++
	}
	if steps == 0 {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(d):
		}
	}
	// With CDI's ImportSucceeded event.
	if err := sim.Succeed(ctx, waitNamespace, waitName); err != nil {
		return res, err
	}
	res.succeeded = time.Since(start)
	switch exited, err := p.wait(ctx, 30*time.Second); {
	case ctx.Err() != nil:
		return res, ctx.Err()
	case !exited:
		return res, failed(errors.New("still running 30 s after the import succeeded"))
	case err != nil:
		return res, failed(fmt.Errorf("did not exit 0 after the import succeeded: %w", err))
	}
	res.elapsed = time.Since(start)
	res.lines = lines

	// The server counts a WATCH when it ends: wait until it has seen the
	// plugin's watches close.
	after, err := settled(ctx, metrics, before.open)
	if err != nil {
		return res, err
	}
	res.sim = simCounter.snapshot().minus(simBefore)
	res.server = after.requests.minus(before.requests)
	res.cacheLists = after.cacheLists.minus(before.cacheLists)
	res.plugin, res.relabelled = counts{}, map[string]float64{}
	for _, resource := range watched {
		for _, verb := range readVerbs {
			sim := res.sim.get(resource, verb)
			res.plugin.add(resource, verb, res.server.get(resource, verb)-sim)
			if n := res.plugin.get(resource, verb); n < 0 {
				return res, fmt.Errorf("the API server counted %g %s %s but cdisim alone made %g: its metrics are not what this benchmark expects",
					res.server.get(resource, verb), verb, resource, sim)
			}
		}
		// For a custom resource, apiserver_request_total labels a list
		// narrowed to one name (fieldSelector=metadata.name=NAME, as dv
		// wait lists its DataVolume) GET, like a read of the object. The
		// lists the watch cache served beyond those labelled LIST are such
		// lists: count them as the LISTs they are.
		extra := res.cacheLists.get(resource, "LIST") - res.server.get(resource, "LIST")
		if n := min(max(extra, 0), res.plugin.get(resource, "GET")); n > 0 {
			res.plugin.add(resource, "GET", -n)
			res.plugin.add(resource, "LIST", n)
			res.relabelled[resource] = n
		}
	}
	return res, nil
}

// settled scrapes the metrics once no watch on the watched resources is
// open beyond those in baseline (nil: none at all), waiting up to 15 s for
// closed connections to be noticed.
func settled(ctx context.Context, m *serverMetrics, baseline counts) (sample, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := m.scrape(ctx)
		if err != nil {
			return s, err
		}
		var open []string
		for _, resource := range watched {
			if n := s.open.get(resource, "WATCH") - baseline.get(resource, "WATCH"); n > 0 {
				open = append(open, fmt.Sprintf("%g on %s", n, resource))
			}
		}
		if len(open) == 0 {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("the API server still serves watches nobody in the benchmark should hold: %s", strings.Join(open, ", "))
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitSection reports the plugin's reads next to polling's.
func waitSection(w io.Writer, res waitResult) {
	polls := max(int(math.Round(res.elapsed.Seconds()/virtctlPoll.Seconds())), 1)
	fmt.Fprintf(w, "Requests while waiting on one import (kubectl-otterscale dv wait NAME --timeout 2m, off a terminal, for %.1f s)\n", res.elapsed.Seconds())
	fmt.Fprintf(w, "  cdisim: claim bound and import scheduled before the start; %d progress %s %s apart, 2 events, Succeeded after %.1f s\n",
		res.steps, plural(res.steps, "update", "updates"), waitStep, res.succeeded.Seconds())
	fmt.Fprintf(w, "  requests served (kube-apiserver's apiserver_request_total)\t     LIST\t    WATCH\t      GET\t    total\n")
	var list, watch, get float64
	for _, resource := range watched {
		l, wa, g := res.plugin.get(resource, "LIST"), res.plugin.get(resource, "WATCH"), res.plugin.get(resource, "GET")
		list, watch, get = list+l, watch+wa, get+g
		fmt.Fprintf(w, "    %s\t%9.0f\t%9.0f\t%9.0f\t%9.0f\n", resource, l, wa, g, l+wa+g)
	}
	total := list + watch + get
	fmt.Fprintf(w, "  kubectl-otterscale dv wait (%d kinds watched)\t%9.0f\t%9.0f\t%9.0f\t%9.0f\n", len(watched), list, watch, get, total)
	fmt.Fprintf(w, "  virtctl's documented polling: a GET every %s (30 a minute)\t%9d\t%9d\t%9d\t%9d\n", virtctlPoll, 0, 0, polls, polls)
	ratio := total / float64(polls)
	fmt.Fprintf(w, "  ratio kubectl-otterscale / polling (target <= 1.0)\t\t\t\t%9.2f\t%s\n", ratio, verdict(ratio))
	fmt.Fprintf(w, "  target: one LIST and one WATCH per kind, no GET\t\t\t\t\t%s\n", metOrMissed(oneListOneWatch(res.plugin)))
	var simReads, simWrites []string
	for _, resource := range watched {
		for verb, n := range res.sim[resource] {
			if n == 0 {
				continue
			}
			s := fmt.Sprintf("%s %s %.0f", verb, resource, n)
			if slices.Contains(readVerbs, verb) {
				simReads = append(simReads, s)
			} else {
				simWrites = append(simWrites, s)
			}
		}
	}
	slices.Sort(simReads)
	slices.Sort(simWrites)
	for _, resource := range watched {
		if n := res.relabelled[resource]; n > 0 {
			fmt.Fprintf(w, "  LIST %s includes %.0f list narrowed to one name (fieldSelector=metadata.name) that the server labels GET for a\n", resource, n)
			fmt.Fprintf(w, "    custom resource; told apart by apiserver_cache_list_total, which counts it and no GET\n")
		}
	}
	fmt.Fprintf(w, "  not the plugin's, left out above: cdisim's reads (counted client-side, subtracted): %s\n", orNone(simReads))
	fmt.Fprintf(w, "                                    cdisim's writes: %s\n", orNone(simWrites))
	fmt.Fprintf(w, "  checked: exit code 0 after Succeeded (%d lines printed); the server's writes to these kinds are cdisim's: %s\n\n",
		res.lines, writesMatch(res))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func oneListOneWatch(c counts) bool {
	for _, resource := range watched {
		if c.get(resource, "LIST") != 1 || c.get(resource, "WATCH") != 1 || c.get(resource, "GET") != 0 {
			return false
		}
	}
	return true
}

// writesMatch says whether the server saw exactly cdisim's writes on the
// watched resources: if so, nobody else was writing to them either.
func writesMatch(res waitResult) string {
	var diffs []string
	for _, resource := range watched {
		for _, verb := range []string{"CREATE", "UPDATE", "PATCH", "DELETE"} {
			if s, c := res.server.get(resource, verb), res.sim.get(resource, verb); s != c {
				diffs = append(diffs, fmt.Sprintf("%s %s: server %g, cdisim %g", verb, resource, s, c))
			}
		}
	}
	if len(diffs) == 0 {
		return "yes"
	}
	return "NO: " + strings.Join(diffs, "; ")
}

func metOrMissed(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}
