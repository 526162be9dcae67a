// Command bench compares the plugin with plain kubectl on the costs a user
// sees: the wall-clock time of creating a DataVolume (through kubectl's plugin
// dispatch, and running the plugin directly) against `kubectl create -f` of
// the same manifest, the start-up time of a command that needs no server, and
// the size of the binary.
//
// The plugin is only worth installing if it is no slower and no bigger than
// the kubectl workflow it replaces, so every ratio has the target <= 1.0; the
// README quotes the report. All commands talk to one local kube-apiserver and
// etcd (internal/testenv), so the server and the network cost the same for
// every tool and the differences are the clients'. Timings are reported, never
// asserted: they depend on the machine.
//
// Three more sections measure the watch that `dv wait` and `dv watch` are
// built on, against the targets of issue 4: the requests `dv wait` makes to
// the API server while it follows one import for 60 s (from kube-apiserver's
// own apiserver_request_total, next to what virtctl's 2-second polling would
// make), the resident memory of `dv watch` following 1,000 DataVolumes that
// all change once (from /proc), and the TUI's Update+View time per frame at
// 1,000 rows (pkg/tui's benchmarks, run by `go test`). internal/cdisim plays
// CDI's part.
//
// The proxy section (bench/proxy.go) measures `kubectl-otterscale proxy`
// against issue 5's targets: the latency GetDataVolume gains through the
// proxy (Connect JSON, Connect binary and gRPC, the binary in a child
// process) over the same call in-process, throughput and the child's memory
// with 64 concurrent clients, and a soak (-soak-seconds, 200 clients) that
// must end with no errors and no growth in goroutines or memory. A failed
// call makes bench exit non-zero once the report is written; -proxy=false
// skips the section.
//
// Run it with `make bench`, or `go run ./bench` from the repository after
// `make build`. It prints the report and writes it to bench/results/latest.txt
// (or $BENCH_RESULTS).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

const (
	namespace = "bench"
	// The warm-up runs create their DataVolumes elsewhere, so that the
	// benchmark's namespace holds exactly the timed runs' objects.
	warmupNamespace = "bench-warmup"
)

// manifest is what `kubectl otterscale dv create NAME --size 1Gi` creates,
// written as a user of plain kubectl would write it.
const manifest = `apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata:
  name: %s
  namespace: %s
  labels:
    otterscale.com/data-volume.boot-image: "false"
spec:
  source:
    blank: {}
  storage:
    accessModes: [ReadWriteOnce]
    resources:
      requests:
        storage: 1Gi
`

func main() {
	var o options
	flag.IntVar(&o.n, "n", 20, "timed runs of each command")
	flag.IntVar(&o.waitSeconds, "wait-seconds", 60, "how long the simulated import runs while `dv wait` follows it")
	flag.IntVar(&o.dvs, "dvs", 1000, "DataVolumes `dv watch` follows while its memory is measured")
	flag.StringVar(&o.only, "only", "", "run one section only: ceph (the report then goes to bench/results/latest-ceph.txt unless $BENCH_RESULTS names a file)")
	o.proxy.addFlags(flag.CommandLine)
	o.ceph.addFlags(flag.CommandLine)
	flag.Parse()
	for _, err := range []error{o.proxy.validate(), o.ceph.validate(), o.validateOnly()} {
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(2)
		}
	}
	for _, f := range []struct {
		name  string
		value int
	}{{"n", o.n}, {"wait-seconds", o.waitSeconds}, {"dvs", o.dvs}} {
		if f.value < 1 {
			fmt.Fprintf(os.Stderr, "bench: -%s must be at least 1\n", f.name)
			os.Exit(2)
		}
	}
	// Ctrl-C cancels ctx, which kills the running child; run's defers then
	// stop the API server and remove the temporary files.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case interrupted:
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	n           int // timed runs of each command
	waitSeconds int // the simulated import's duration
	dvs         int // DataVolumes watched
	only        string
	proxy       proxyOptions
	ceph        cephOptions
}

// validateOnly checks -only.
func (o options) validateOnly() error {
	switch o.only {
	case "", "ceph":
		return nil
	}
	return fmt.Errorf("-only: unknown section %q (the one known is ceph)", o.only)
}

// all says whether every section runs.
func (o options) all() bool { return o.only == "" }

func run(ctx context.Context, o options) (err error) {
	n := o.n
	// The default binary and the results folder are relative to the root.
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run the benchmark from the repository's root: `go run ./bench` or `make bench`")
	}
	pluginName := os.Getenv("OTTERSCALE_BINARY")
	if pluginName == "" {
		pluginName = filepath.Join("bin", "kubectl-otterscale")
	}
	pluginPath, err := filepath.Abs(pluginName)
	if err != nil {
		return err
	}
	if _, err := os.Stat(pluginPath); err != nil {
		return fmt.Errorf("no plugin binary at %s: run `make build` first (or set OTTERSCALE_BINARY)", pluginPath)
	}
	// The Makefile passes an absolute path; the report names the file
	// relative to the repository, as the README would.
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, pluginPath); err == nil && filepath.IsLocal(rel) {
			pluginName = rel
		}
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return err
	}

	tmp, err := os.MkdirTemp("", "otterscale-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	binDir, home := filepath.Join(tmp, "bin"), filepath.Join(tmp, "home")
	for _, d := range []string{binDir, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	// kubectl finds plugins by name on PATH; a link of our own fixes the name
	// and puts any other installed kubectl-otterscale out of the way.
	plugin := filepath.Join(binDir, "kubectl-otterscale")
	if err := os.Symlink(pluginPath, plugin); err != nil {
		return err
	}
	creates, versions := createCommands(tmp, namespace), versionCommands()
	warmups := slices.Concat(createCommands(tmp, warmupNamespace), versions)
	if err := writeManifests(tmp, namespace, n); err != nil {
		return err
	}
	if err := writeManifests(tmp, warmupNamespace, 1); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "bench: starting the test environment")
	env, err := testenv.Start(ctx, testenv.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := env.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stop the test environment: %w", stopErr))
		}
	}()
	if err := env.CreateStorageClass(ctx, "ceph-block", true); err != nil {
		return err
	}
	for _, ns := range []string{namespace, warmupNamespace} {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}

	r := &runner{kubectl: kubectl, plugin: plugin, env: append(os.Environ(),
		"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+env.Kubeconfig,
		// A HOME of this run's own: kubectl's discovery and HTTP caches
		// start empty and hold only this server's answers.
		"HOME="+home,
		"KUBECACHEDIR="+filepath.Join(home, ".kube", "cache"),
	)}
	// The client sections: everything but Ceph.
	var c clientResults
	if o.all() {
		if c, err = measureClients(ctx, r, env, o, tmp, kubectl, creates, versions, warmups); err != nil {
			return err
		}
	}
	ceph, err := measureCeph(ctx, r, env, tmp, pluginPath, o.ceph)
	if err != nil {
		return fmt.Errorf("the Ceph section: %w", err)
	}

	// The report: a header to tell machines and builds apart, then a table.
	kubectlFile, err := filepath.EvalSymlinks(kubectl)
	if err != nil {
		return err
	}
	server, err := env.Kube.Discovery().ServerVersion()
	if err != nil {
		return err
	}
	pluginVersion, _ := r.output(ctx, "kubectl-otterscale", "version")
	kubectlVersion, _ := r.output(ctx, "kubectl", "version", "--client")
	var rep bytes.Buffer
	fmt.Fprintf(&rep, "kubectl-otterscale bench  %s  %s %s/%s  %s, %d cores (nproc %s)\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuModel(), runtime.NumCPU(), nproc(ctx))
	fmt.Fprintf(&rep, "commit:  %s\n", gitCommit(ctx))
	fmt.Fprintf(&rep, "plugin:  %s: %s\n", pluginName, pluginVersion)
	fmt.Fprintf(&rep, "kubectl: %s -> %s: %s\n", kubectl, kubectlFile, kubectlVersion)
	if strings.Contains(kubectlVersion, "dispatcher") {
		fmt.Fprintln(&rep, "         (a version dispatcher: a whole kubectl itself, which can exec a sibling kubectl.1.NN to match a server)")
	}
	fmt.Fprintf(&rep, "server:  local kube-apiserver %s + etcd %s with the CDI CRDs, no controllers\n", server.GitVersion, testenv.EtcdVersion)
	if o.only != "" {
		fmt.Fprintf(&rep, "only:    the %s section (-only=%s)\n", o.only, o.only)
	}
	w := tabwriter.NewWriter(&rep, 0, 0, 3, ' ', 0)
	if o.all() {
		fmt.Fprintf(&rep, "method:  wall clock per process, exec to exit; N=%d of each, interleaved, order rotated each round;\n", n)
		fmt.Fprintln(&rep, "         one untimed warm-up of each first, so all run with a warm discovery cache (in a fresh HOME)")
		fmt.Fprintf(&rep, "checked: every run exited 0; namespace %s holds the %d DataVolumes created\n\n", namespace, 3*n)
		section(w, "Create a blank 1Gi DataVolume", creates, c.createTimes)
		section(w, "Cold start: a fresh process each run, OS page cache warm (not dropped)", versions, c.versionTimes)
		if err := sizes(w, pluginName, pluginPath, kubectlFile); err != nil {
			return err
		}
		fmt.Fprintln(w)
		waitSection(w, c.waited)
		memorySection(w, c.memory)
		frameSection(w, c.frames)
		proxySection(w, c.proxied)
		if err := distSection(w, c.dist, kubectlFile); err != nil {
			return err
		}
	}
	cephSection(w, ceph)
	if err := w.Flush(); err != nil {
		return err
	}

	if _, err := os.Stdout.Write(rep.Bytes()); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join("bench", "results"), 0o755); err != nil {
		return err
	}
	// BENCH_RESULTS names another file, for a second build's run.
	out := os.Getenv("BENCH_RESULTS")
	if out == "" {
		out = filepath.Join("bench", "results", "latest.txt")
		if o.only != "" {
			out = filepath.Join("bench", "results", "latest-"+o.only+".txt")
		}
	}
	if err := os.WriteFile(out, rep.Bytes(), 0o644); err != nil {
		return err
	}
	return errors.Join(c.proxied.failure(), ceph.failure())
}

// clientResults are the sections before Ceph's.
type clientResults struct {
	createTimes, versionTimes [][]time.Duration
	waited                    waitResult
	memory                    memoryResult
	frames                    []frameResult
	proxied                   proxyResult
	dist                      *distResult
}

// measureClients runs every section but Ceph's: the plugin against
// kubectl, the watch, the TUI, the proxy and the release archives.
func measureClients(ctx context.Context, r *runner, env *testenv.Env, o options, tmp, kubectl string, creates, versions, warmups []command) (c clientResults, err error) {
	n := o.n
	// One untimed run of each command fills kubectl's discovery and HTTP
	// caches and the page cache, so that no first run pays for them.
	fmt.Fprintln(os.Stderr, "bench: warming up")
	for _, cmd := range warmups {
		if _, err := r.time(ctx, cmd.argv(0)); err != nil {
			return c, fmt.Errorf("warm-up: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "bench: %d creates of each kind\n", n)
	if c.createTimes, err = r.measure(ctx, creates, n); err != nil {
		return c, err
	}
	fmt.Fprintf(os.Stderr, "bench: %d starts of each kind\n", n)
	if c.versionTimes, err = r.measure(ctx, versions, n); err != nil {
		return c, err
	}
	if err := verify(ctx, env, n); err != nil {
		return c, err
	}
	waitFor := time.Duration(o.waitSeconds) * time.Second
	fmt.Fprintf(os.Stderr, "bench: dv wait on one import for %s\n", waitFor)
	if c.waited, err = measureWait(ctx, r, env, waitFor); err != nil {
		return c, fmt.Errorf("requests while waiting on one import: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: dv watch on %d DataVolumes\n", o.dvs)
	if c.memory, err = measureMemory(ctx, r, env, o.dvs); err != nil {
		return c, fmt.Errorf("memory watching %d DataVolumes: %w", o.dvs, err)
	}
	fmt.Fprintln(os.Stderr, "bench: TUI frame benchmarks")
	if c.frames, err = measureFrames(ctx); err != nil {
		return c, err
	}
	if c.proxied, err = measureProxy(ctx, r, env, o.proxy); err != nil {
		return c, fmt.Errorf("the proxy: %w", err)
	}
	kubectlFile, err := filepath.EvalSymlinks(kubectl)
	if err != nil {
		return c, err
	}
	fmt.Fprintln(os.Stderr, "bench: release archives and cold starts")
	if c.dist, err = measureDist(ctx, "dist", kubectlFile, tmp, n); err != nil {
		return c, fmt.Errorf("release archives: %w", err)
	}
	return c, nil
}

// gitCommit is the commit the bench runs in, "-dirty" when the tree has
// changes.
func gitCommit(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		commit += "-dirty"
	}
	return commit
}

// nproc is what nproc(1) says: the CPUs this process may use.
func nproc(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "nproc").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// command is one way of doing a task; argv gives the command line of run i.
type command struct {
	label string
	argv  func(i int) []string
}

// createCommands are the three ways of creating DataVolume number i in ns.
func createCommands(dir, ns string) []command {
	return []command{
		{"kubectl otterscale dv create", func(i int) []string {
			return []string{"kubectl", "otterscale", "dv", "create", fmt.Sprintf("bench-p-%d", i), "--size", "1Gi", "-n", ns}
		}},
		{"kubectl create -f FILE", func(i int) []string {
			return []string{"kubectl", "create", "-f", manifestPath(dir, ns, i)}
		}},
		{"kubectl-otterscale dv create", func(i int) []string {
			return []string{"kubectl-otterscale", "dv", "create", fmt.Sprintf("bench-d-%d", i), "--size", "1Gi", "-n", ns}
		}},
	}
}

func versionCommands() []command {
	fixed := func(argv ...string) func(int) []string { return func(int) []string { return argv } }
	return []command{
		{"kubectl otterscale version", fixed("kubectl", "otterscale", "version")},
		{"kubectl version --client", fixed("kubectl", "version", "--client")},
		{"kubectl-otterscale version", fixed("kubectl-otterscale", "version")},
	}
}

func manifestPath(dir, ns string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("%s-bench-k-%d.yaml", ns, i))
}

// writeManifests writes kubectl create's input beforehand, so that producing
// it is not part of what is timed.
func writeManifests(dir, ns string, n int) error {
	for i := range n {
		body := fmt.Sprintf(manifest, fmt.Sprintf("bench-k-%d", i), ns)
		if err := os.WriteFile(manifestPath(dir, ns, i), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runner runs commands as a shell would, in the run's environment.
type runner struct {
	env     []string
	kubectl string // kubectl's path
	plugin  string // the link to the plugin on the children's PATH
}

func (r *runner) command(ctx context.Context, argv []string) *exec.Cmd {
	path := r.kubectl
	if argv[0] == "kubectl-otterscale" {
		path = r.plugin
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0] // what a shell passes: the name as typed
	cmd.Env = r.env
	return cmd
}

// time runs argv once and returns its wall-clock time from exec to exit.
func (r *runner) time(ctx context.Context, argv []string) (time.Duration, error) {
	cmd := r.command(ctx, argv)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out.Bytes())
	}
	return elapsed, nil
}

// output returns the first line a command prints.
func (r *runner) output(ctx context.Context, argv ...string) (string, error) {
	out, err := r.command(ctx, argv).Output()
	line, _, _ := strings.Cut(string(out), "\n")
	return line, err
}

// measure runs every command n times and returns the times per command. The
// commands take turns, and the order rotates each round, so that drifts in
// the machine's load affect all of them alike and none always runs first.
func (r *runner) measure(ctx context.Context, cmds []command, n int) ([][]time.Duration, error) {
	times := make([][]time.Duration, len(cmds))
	for i := range n {
		for j := range cmds {
			c := (i + j) % len(cmds)
			d, err := r.time(ctx, cmds[c].argv(i))
			if err != nil {
				return nil, err
			}
			times[c] = append(times[c], d)
		}
	}
	return times, nil
}

// verify checks that every timed create left its DataVolume behind: an exit
// code of 0 alone does not prove the write.
func verify(ctx context.Context, env *testenv.Env, n int) error {
	cdi, err := cdiclient.NewForConfig(env.Config)
	if err != nil {
		return err
	}
	list, err := cdi.CdiV1beta1().DataVolumes(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list DataVolumes: %w", err)
	}
	if len(list.Items) != 3*n {
		return fmt.Errorf("namespace %s holds %d DataVolumes after %d creates that exited 0", namespace, len(list.Items), 3*n)
	}
	return nil
}

// section writes the median and p90 of each command, and the ratios of the
// first and third (the plugin through kubectl, and directly) to the second
// (kubectl's own way of doing the same). Numbers have fixed widths so that
// they line up in tabwriter's left-aligned columns.
func section(w io.Writer, title string, cmds []command, times [][]time.Duration) {
	med, p90 := make([]time.Duration, len(cmds)), make([]time.Duration, len(cmds))
	for i, ts := range times {
		med[i], p90[i] = percentiles(ts)
	}
	fmt.Fprintf(w, "%s\n  command\tmedian ms\t   p90 ms\n", title)
	for i, c := range cmds {
		fmt.Fprintf(w, "  %s\t%9.1f\t%9.1f\n", c.label, ms(med[i]), ms(p90[i]))
	}
	fmt.Fprintf(w, "  ratio (target <= 1.0, judged on the median)\t   median\t      p90\n")
	for _, i := range []int{0, 2} {
		rm, rp := float64(med[i])/float64(med[1]), float64(p90[i])/float64(p90[1])
		fmt.Fprintf(w, "  %s / %s\t%9.2f\t%9.2f\t%s\n", cmds[i].label, cmds[1].label, rm, rp, verdict(rm))
	}
	fmt.Fprintln(w)
}

// sizes compares the plugin's binary with the file kubectl's path resolves to.
func sizes(w io.Writer, pluginName, plugin, kubectl string) error {
	var mib [2]float64
	for i, path := range []string{plugin, kubectl} {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		mib[i] = float64(fi.Size()) / (1 << 20)
	}
	fmt.Fprintf(w, "Binary size\n  file\t      MiB\n")
	fmt.Fprintf(w, "  kubectl-otterscale (%s)\t%9.1f\n", pluginName, mib[0])
	fmt.Fprintf(w, "  kubectl (%s)\t%9.1f\n", kubectl, mib[1])
	fmt.Fprintf(w, "  ratio kubectl-otterscale / kubectl (target <= 1.0)\t%9.2f\t%s\n", mib[0]/mib[1], verdict(mib[0]/mib[1]))
	return nil
}

// percentiles returns the median and the nearest-rank 90th percentile.
func percentiles(ts []time.Duration) (median, p90 time.Duration) {
	s := slices.Sorted(slices.Values(ts))
	n := len(s)
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[(9*n+9)/10-1] // rank ceil(0.9 n)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func verdict(ratio float64) string {
	if ratio <= 1.0 {
		return "met"
	}
	return "missed"
}

// cpuModel is the first "model name" in /proc/cpuinfo.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(data)) {
		if key, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}
