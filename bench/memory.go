package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

const (
	watchNamespace = "bench-watch"
	// workers create and update the DataVolumes concurrently.
	workers = 8
	// memoryTarget is the target for the watch's resident memory.
	memoryTarget = 100 // MiB
	// updatedProgress is what every DataVolume is moved to.
	updatedProgress = 50.0
)

// memoryResult is what the memory benchmark measured, in KiB as the kernel
// reports it.
type memoryResult struct {
	n                      int
	createTime, updateTime time.Duration // the setup's creates and status updates
	listedTime             time.Duration // from starting the watch to its ADDED lines
	updatedTime            time.Duration // from the first update to the last MODIFIED line
	listed, updated        procMemory    // after the ADDED lines, after the MODIFIED ones
}

// measureMemory creates n DataVolumes, starts `kubectl-otterscale dv watch
// -o json` on their namespace off a terminal, waits for its n ADDED lines,
// updates every DataVolume once (cdisim: progress 50%), waits for the n
// MODIFIED lines, reads the process's resident memory from /proc, and stops
// it with SIGINT, which must end it with exit code 0.
func measureMemory(ctx context.Context, r *runner, env *testenv.Env, n int) (res memoryResult, err error) {
	res.n = n
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: watchNamespace}}
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return res, fmt.Errorf("create namespace %s: %w", watchNamespace, err)
	}
	cdi, err := cdiclient.NewForConfig(env.Config)
	if err != nil {
		return res, err
	}
	sim, err := cdisim.New(env.Config)
	if err != nil {
		return res, err
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("dv-%04d", i)
	}
	begin := time.Now()
	err = parallel(ctx, names, func(ctx context.Context, name string) error {
		_, err := cdi.CdiV1beta1().DataVolumes(watchNamespace).Create(ctx, blankDataVolume(name), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create data volume %s/%s: %w", watchNamespace, name, err)
		}
		// CDI takes each import as far as the importer running, so that
		// the update measured below is one status write each.
		if err := sim.Start(ctx, watchNamespace, name); err != nil {
			return err
		}
		return sim.Run(ctx, watchNamespace, name)
	})
	if err != nil {
		return res, err
	}
	res.createTime = time.Since(begin)

	argv := []string{"kubectl-otterscale", "dv", "watch", "-n", watchNamespace, "-o", "json"}
	lines := newLineCounter(n, 2*n)
	begin = time.Now()
	p, err := r.start(ctx, argv, lines.line)
	if err != nil {
		return res, err
	}
	defer p.stop()
	// waitLines waits for the k-th threshold's lines.
	waitLines := func(k int, what string, limit time.Duration) error {
		t := time.NewTimer(limit)
		defer t.Stop()
		select {
		case <-lines.reached[k]:
			return nil
		case <-p.exited:
			return p.failed(fmt.Errorf("exited after %d lines, before %s: %v", lines.count(), what, p.err))
		case <-t.C:
			return p.failed(fmt.Errorf("printed %d lines in %s, not %s", lines.count(), limit, what))
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	if err := waitLines(0, fmt.Sprintf("the %d ADDED lines", n), time.Minute); err != nil {
		return res, err
	}
	res.listedTime = time.Since(begin)
	if res.listed, err = readProcMemory(p.pid); err != nil {
		return res, err
	}

	begin = time.Now()
	err = parallel(ctx, names, func(ctx context.Context, name string) error {
		return sim.Progress(ctx, watchNamespace, name, updatedProgress)
	})
	if err != nil {
		return res, err
	}
	res.updateTime = time.Since(begin)
	if err := waitLines(1, fmt.Sprintf("%d more lines, one per update", n), 2*time.Minute); err != nil {
		return res, err
	}
	res.updatedTime = time.Since(begin)
	if res.updated, err = readProcMemory(p.pid); err != nil {
		return res, err
	}

	if err := p.signal(os.Interrupt); err != nil {
		return res, p.failed(fmt.Errorf("interrupt: %w", err))
	}
	switch exited, err := p.wait(ctx, 10*time.Second); {
	case ctx.Err() != nil:
		return res, ctx.Err()
	case !exited:
		return res, p.failed(errors.New("still running 10 s after SIGINT"))
	case err != nil:
		return res, p.failed(fmt.Errorf("did not exit 0 on SIGINT: %w", err))
	}
	if err := lines.check(names, fmt.Sprintf("%.2f%%", updatedProgress)); err != nil {
		return res, p.failed(err)
	}
	return res, nil
}

// blankDataVolume is what `kubectl otterscale dv create NAME --size 1Gi`
// creates.
func blankDataVolume(name string) *cdiv1.DataVolume {
	return &cdiv1.DataVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: watchNamespace,
			Labels:    map[string]string{"otterscale.com/data-volume.boot-image": "false"},
		},
		Spec: cdiv1.DataVolumeSpec{
			Source: &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}},
			Storage: &cdiv1.StorageSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				},
			},
		},
	}
}

// parallel calls f for every name with a few workers and returns the first
// error, after which the others stop taking names.
func parallel(ctx context.Context, names []string, f func(context.Context, string) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	todo := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for name := range todo {
				if err := f(ctx, name); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, name := range names {
		select {
		case todo <- name:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	return context.Cause(ctx)
}

// lineCounter reads the JSON lines of `dv watch -o json` and closes
// reached[k] once thresholds[k] lines have come.
type lineCounter struct {
	thresholds []int
	reached    []chan struct{}

	mu    sync.Mutex
	n     int
	names map[string]int    // lines per DataVolume
	last  map[string]string // each DataVolume's last progress
	bad   []string          // lines that are not a DataVolume
}

func newLineCounter(thresholds ...int) *lineCounter {
	c := &lineCounter{thresholds: thresholds, names: map[string]int{}, last: map[string]string{}}
	for range thresholds {
		c.reached = append(c.reached, make(chan struct{}))
	}
	return c
}

// line takes one line of output.
func (c *lineCounter) line(text []byte) {
	var dv struct{ Name, Progress string }
	err := json.Unmarshal(text, &dv)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || dv.Name == "" {
		if len(c.bad) < 3 {
			c.bad = append(c.bad, string(text))
		}
	} else {
		c.names[dv.Name]++
		c.last[dv.Name] = dv.Progress
	}
	c.n++
	for k, t := range c.thresholds {
		if c.n == t {
			close(c.reached[k])
		}
	}
}

func (c *lineCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// check says whether every line was a DataVolume, every DataVolume came
// twice (ADDED, then MODIFIED), and each one's last line has progress.
func (c *lineCounter) check(names []string, progress string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bad) > 0 {
		return fmt.Errorf("printed lines that are not JSON DataVolumes, e.g. %q", c.bad[0])
	}
	if c.n != 2*len(names) {
		return fmt.Errorf("printed %d lines, want %d (an ADDED and a MODIFIED per DataVolume)", c.n, 2*len(names))
	}
	for _, name := range names {
		if c.names[name] != 2 || c.last[name] != progress {
			return fmt.Errorf("printed %d lines for %s, the last with progress %q; want 2, the last with %q",
				c.names[name], name, c.last[name], progress)
		}
	}
	return nil
}

// procMemory is what /proc/PID/status says about a process's memory, in
// KiB: resident now (VmRSS, of which RssAnon is the heap and stacks and
// RssFile the mapped binary and libraries) and at its peak (VmHWM).
type procMemory struct{ rss, anon, file, peak int64 }

func readProcMemory(pid int) (procMemory, error) {
	var m procMemory
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("read the watch's memory: %w", err)
	}
	fields := map[string]*int64{"VmRSS": &m.rss, "RssAnon": &m.anon, "RssFile": &m.file, "VmHWM": &m.peak}
	for line := range strings.Lines(string(data)) {
		key, value, _ := strings.Cut(line, ":")
		into, ok := fields[key]
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("read the watch's memory: %s: %w", strings.TrimSpace(line), err)
		}
		*into = kib
		delete(fields, key)
	}
	if len(fields) > 0 {
		return m, fmt.Errorf("read the watch's memory: /proc/%d/status lacks %d of VmRSS, RssAnon, RssFile and VmHWM", pid, len(fields))
	}
	return m, nil
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// memorySection reports the watch's memory against the target.
func memorySection(w io.Writer, res memoryResult) {
	fmt.Fprintf(w, "Memory watching %s DataVolumes (kubectl-otterscale dv watch -n NS -o json, off a terminal; /proc/PID/status)\n", thousands(res.n))
	fmt.Fprintf(w, "  moment\t  RSS MiB\t anon MiB\t file MiB\n")
	for _, row := range []struct {
		label string
		m     procMemory
	}{
		{fmt.Sprintf("after the initial list: %s ADDED lines, %.1f s after the start", thousands(res.n), res.listedTime.Seconds()), res.listed},
		{fmt.Sprintf("after each DataVolume changed once: %s more lines, %.1f s", thousands(res.n), res.updatedTime.Seconds()), res.updated},
	} {
		fmt.Fprintf(w, "  %s\t%9.1f\t%9.1f\t%9.1f\n", row.label, mib(row.m.rss), mib(row.m.anon), mib(row.m.file))
	}
	peak := mib(res.updated.peak)
	fmt.Fprintf(w, "  peak RSS, VmHWM (target < %d MiB)\t%9.1f\t\t\t%s\n", memoryTarget, peak, metOrMissed(peak < memoryTarget))
	fmt.Fprintf(w, "  (anon: the heap and stacks; file: pages of the binary and its shared libraries, %.0f%% of RSS at the end)\n", 100*float64(res.updated.file)/float64(res.updated.rss))
	fmt.Fprintf(w, "  setup: %s creates in %.1f s, then %s status updates (cdisim: progress %.0f%%) in %.1f s, %d workers each\n",
		thousands(res.n), res.createTime.Seconds(), thousands(res.n), updatedProgress, res.updateTime.Seconds(), workers)
	fmt.Fprintf(w, "  checked: one ADDED and one MODIFIED line per DataVolume, the last at %.2f%%; exit code 0 on SIGINT\n\n", updatedProgress)
}

// thousands writes n with thousands separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
