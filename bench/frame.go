package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// frameTarget is the target for one frame: under 16 ms, so
	// that the view keeps up at 60 updates a second.
	frameTarget = 16.0 // ms
	// frameBenchmarks are pkg/tui's benchmarks of Update+View at 1,000 rows.
	frameBenchmarks = "BenchmarkUpdateView1000|BenchmarkUpdateViewBurst1000"
	frameRuns       = "200x"
	burstEvents     = 1000 // the DataVolumes changed in one burst
)

// frameResult is one benchmark's line.
type frameResult struct {
	name    string
	n       int
	nsPerOp float64
	bytes   string // B/op, as printed
	allocs  string // allocs/op, as printed
}

// benchLine matches `go test -bench` results such as
// "BenchmarkUpdateView1000/sorted-by-name-2   200   190520 ns/op   98193 B/op   1080 allocs/op".
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+([0-9.]+) ns/op(?:\s+(\d+) B/op)?(?:\s+(\d+) allocs/op)?`)

// frameEnv is what the frame benchmarks run with beyond this process's
// environment: the plugin ships cgo-free, so its TUI is measured as that
// build (this bench itself is built with cgo for its Ceph section).
const frameEnv = "CGO_ENABLED=0"

// frameArgs is the command line of the frame benchmarks.
func frameArgs() []string {
	return []string{"go", "test", "-count=1", "-run", "^$", "-bench", frameBenchmarks, "-benchtime", frameRuns, "./pkg/tui"}
}

// measureFrames runs pkg/tui's frame benchmarks in a child `go test` (with
// this process's environment, so its build cache and GOFLAGS) and returns
// their results.
func measureFrames(ctx context.Context) ([]frameResult, error) {
	argv := frameArgs()
	goTool, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("frame time: %w", err)
	}
	cmd := exec.CommandContext(ctx, goTool, argv[1:]...)
	cmd.Env = append(os.Environ(), frameEnv)
	// go test runs the test binary as a child of its own: a process group
	// of their own lets an interrupt of the benchmark end both, the go
	// command first removing its temporary files. Whatever still runs
	// after that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			if cmd.Process != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("frame time: %s: %w\n%s", strings.Join(argv, " "), err, out.Bytes())
	}
	var res []frameResult
	for line := range strings.Lines(out.String()) {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return nil, fmt.Errorf("frame time: %q: %w", line, err)
		}
		ns, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("frame time: %q: %w", line, err)
		}
		res = append(res, frameResult{name: m[1], n: n, nsPerOp: ns, bytes: m[4], allocs: m[5]})
	}
	if len(res) == 0 {
		return nil, errors.New("frame time: " + strings.Join(argv, " ") + " printed no benchmark results:\n" + out.String())
	}
	return res, nil
}

// frameSection reports each benchmark's time per frame against the target.
func frameSection(w io.Writer, res []frameResult) {
	fmt.Fprintf(w, "TUI frame time: Update+View at 1,000 DataVolumes, 200x60 cells, true colour, the cgo-free build as shipped (%s %s)\n", frameEnv, shellJoin(frameArgs()))
	fmt.Fprintf(w, "  benchmark\t   frames\t ms/frame\t  KiB/frame\tallocs/frame\n")
	for _, r := range res {
		label := strings.TrimPrefix(r.name, "Benchmark")
		switch {
		case strings.HasPrefix(r.name, "BenchmarkUpdateViewBurst"):
			label += fmt.Sprintf(": per burst (all %s changed, one frame)", thousands(burstEvents))
		case strings.HasPrefix(r.name, "BenchmarkUpdateView1000"):
			label += ": per event (one changed, one frame)"
		}
		kib := ""
		if b, err := strconv.ParseFloat(r.bytes, 64); err == nil {
			kib = fmt.Sprintf("%11.1f", b/1024)
		}
		ms := r.nsPerOp / 1e6
		fmt.Fprintf(w, "  %s\t%9d\t%9.2f\t%s\t%12s\t%s\n", label, r.n, ms, kib, r.allocs, metOrMissed(ms < frameTarget))
	}
	fmt.Fprintf(w, "  target: a frame under %.0f ms (60 updates a second)\n", frameTarget)
}

// shellJoin writes argv as a shell command line, quoting what needs it.
func shellJoin(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " |^$*?'\"\\&;<>()") {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}
