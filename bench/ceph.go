package main

// The Ceph section (issue 10): the RBD commands against Ceph's own `rbd`
// (and, for pools and images, issue 12's, against `ceph` and `rbd`),
// the worker process against the same work done in-process, the peak
// memory of a snapshot command, and a soak of the proxy mixing every
// StorageService call. Everything runs against a real one-monitor,
// one-OSD Ceph on loopback (internal/cephenv), started for the section.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

const (
	// cephTarget is issue 10's target for a snapshot command against
	// `rbd snap create`, whole process to whole process.
	cephTarget = 1.2
	// workerTarget is issue 10's target for the worker's overhead over the
	// same handler called in-process.
	workerTarget = 0.10
	// The images of the CLI comparisons: one with one snapshot, one with
	// many (-ceph-snapshots).
	fewImage  = "bench-snaps-1"
	manyImage = "bench-snaps-many"
	// inprocImage takes the in-process comparison's snapshots.
	inprocImage = "bench-inproc"
	// benchImageBytes is each image's size: 64 objects of 4 MiB. memstore
	// keeps what is written in RAM, so little is written.
	benchImageBytes = 256 << 20
	// writeEvery: before every writeEvery-th snapshot of the setup, 64 KiB
	// is written into another object, so that `rbd du` has something to
	// count.
	writeEvery = 10
	// rookNamespace is where the plugin looks for Rook by default.
	rookNamespace = "rook-ceph"
)

// cephOptions are the Ceph section's flags.
type cephOptions struct {
	enabled      bool
	n            int // timed runs of each command
	calls        int // timed calls of each kind in the in-process comparison
	rssRuns      int // runs of each command whose peak memory is read
	snapshots    int // snapshots of the many-snapshot image
	soakSeconds  int
	soakClients  int
	soakImages   int
	rookCommands bool
}

func (o *cephOptions) addFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.enabled, "ceph", true, "measure the RBD commands, the Ceph worker and the proxy against a local Ceph (-ceph=false skips it)")
	fs.IntVar(&o.n, "ceph-n", 15, "timed runs of each command in the Ceph section's CLI comparisons")
	fs.IntVar(&o.calls, "ceph-calls", 30, "timed calls of each kind in the worker/in-process comparison")
	fs.IntVar(&o.rssRuns, "ceph-rss-runs", 5, "runs of each command whose peak memory is read")
	fs.IntVar(&o.snapshots, "ceph-snapshots", 100, "snapshots of the many-snapshot image")
	fs.IntVar(&o.soakSeconds, "ceph-soak-seconds", 60, "how long the proxy's Ceph soak runs")
	fs.IntVar(&o.soakClients, "ceph-soak-clients", 64, "concurrent clients in the proxy's Ceph soak")
	fs.IntVar(&o.soakImages, "ceph-soak-images", 4, "images the Ceph soak's clients share out (client i uses image i mod this)")
	fs.BoolVar(&o.rookCommands, "ceph-rook", true, "also time `snapshot create` finding Ceph through Rook's objects in the API server")
}

func (o cephOptions) validate() error {
	for _, f := range []struct {
		name       string
		value, min int
	}{
		{"ceph-n", o.n, 1}, {"ceph-calls", o.calls, 1}, {"ceph-rss-runs", o.rssRuns, 1}, {"ceph-snapshots", o.snapshots, 1},
		{"ceph-soak-seconds", o.soakSeconds, 1}, {"ceph-soak-clients", o.soakClients, 1}, {"ceph-soak-images", o.soakImages, 1},
	} {
		if f.value < f.min {
			return fmt.Errorf("-%s must be at least %d", f.name, f.min)
		}
	}
	return nil
}

// cephBench is what every part of the section shares.
type cephBench struct {
	o       cephOptions
	ceph    *cephenv.Cluster
	env     *testenv.Env
	krewDir string   // kubectl-otterscale and otterscale-ceph side by side
	plugin  string   // krewDir's kubectl-otterscale
	worker  string   // krewDir's otterscale-ceph
	keyFile string   // client.admin's bare key
	pluginE []string // the plugin's environment: no $OTTERSCALE_CEPH_*
	rbdE    []string // rbd's and ceph's: no CEPH_ARGS, CEPH_CONF, CEPH_KEYRING
	rbd     string
	cephCLI string
}

// cephResult is what the Ceph section measured.
type cephResult struct {
	skipped   string // why, when it did not run
	setup     time.Duration
	elapsed   time.Duration
	monHost   string
	snapshots int // of the many-snapshot image, when the comparisons ran
	create    []timedSet
	list      []timedSet
	admin     []timedSet // pool list, image create, resize and delete
	inproc    inprocResult
	rss       rssResult
	soak      cephSoakResult
}

// timedSet is a group of commands timed interleaved: the first is ours,
// ratios are taken against the others as the set says.
type timedSet struct {
	title  string
	labels []string
	argv   [][]string // for the report: the command lines, keys elided
	times  [][]time.Duration
	ratios [][2]int // numerator, denominator
	target float64  // 0: no target
}

// failure is nil when every check of the section passed.
func (c cephResult) failure() error {
	if c.skipped != "" {
		return nil
	}
	return c.soak.failure()
}

// measureCeph runs the Ceph section. pluginPath is the plugin under test;
// its otterscale-ceph must be beside it, as `make build` leaves them.
func measureCeph(ctx context.Context, r *runner, env *testenv.Env, tmp, pluginPath string, o cephOptions) (res cephResult, err error) {
	if !o.enabled {
		res.skipped = "skipped (-ceph=false)"
		return res, nil
	}
	if err := cephenv.Missing(); err != nil {
		return res, fmt.Errorf("%w (-ceph=false skips the Ceph section)", err)
	}
	begin := time.Now()
	defer func() { res.elapsed = time.Since(begin) }()
	b := &cephBench{o: o, env: env, krewDir: filepath.Join(tmp, "krew")}
	if err := b.layout(pluginPath, r.env); err != nil {
		return res, err
	}

	fmt.Fprintln(os.Stderr, "bench: ceph: starting a one-OSD Ceph")
	b.ceph, err = cephenv.Start(ctx, cephenv.Options{})
	if err != nil {
		return res, err
	}
	defer func() {
		if stopErr := b.ceph.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stop Ceph: %w", stopErr))
		}
	}()
	res.monHost = b.ceph.MonHost
	b.keyFile = filepath.Join(tmp, "ceph-admin.key")
	if err := os.WriteFile(b.keyFile, []byte(b.ceph.AdminKey+"\n"), 0o600); err != nil {
		return res, err
	}
	if err := b.rookObjects(ctx); err != nil {
		return res, fmt.Errorf("the Rook objects: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: ceph: images with 1 and %d snapshots\n", o.snapshots)
	if err := b.snapshotImage(ctx, fewImage, 1); err != nil {
		return res, err
	}
	if err := b.snapshotImage(ctx, manyImage, o.snapshots); err != nil {
		return res, err
	}
	res.setup = time.Since(begin)
	res.snapshots = o.snapshots

	// The listings first, while the images hold exactly their snapshots.
	fmt.Fprintf(os.Stderr, "bench: ceph: listings, %d runs of each\n", o.n)
	if res.list, err = b.measureLists(ctx); err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "bench: ceph: snapshot create, %d runs of each\n", o.n)
	if res.create, err = b.measureCreates(ctx); err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "bench: ceph: pool list, image create, resize and delete, %d runs of each\n", o.n)
	if res.admin, err = b.measureImageAdmin(ctx); err != nil {
		return res, fmt.Errorf("pool and image commands: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: ceph: peak memory, %d runs of each\n", o.rssRuns)
	if res.rss, err = b.measureRSS(ctx); err != nil {
		return res, fmt.Errorf("peak memory: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: ceph: the worker against in-process, %d calls of each\n", o.calls)
	if res.inproc, err = b.measureInProcess(ctx); err != nil {
		return res, fmt.Errorf("worker against in-process: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: ceph: proxy soak, %d s with %d clients\n", o.soakSeconds, o.soakClients)
	if res.soak, err = b.soak(ctx); err != nil {
		return res, fmt.Errorf("the Ceph soak: %w", err)
	}
	return res, ctx.Err()
}

// layout copies the plugin and its worker into one directory, as Krew
// installs them, and makes the environments the commands run in.
func (b *cephBench) layout(pluginPath string, base []string) error {
	workerPath := filepath.Join(filepath.Dir(pluginPath), worker.BinaryName)
	if _, err := os.Stat(workerPath); err != nil {
		return fmt.Errorf("no %s beside %s: run `make build` first", worker.BinaryName, pluginPath)
	}
	if err := os.Mkdir(b.krewDir, 0o755); err != nil {
		return err
	}
	b.plugin = filepath.Join(b.krewDir, "kubectl-otterscale")
	b.worker = filepath.Join(b.krewDir, worker.BinaryName)
	for src, dst := range map[string]string{pluginPath: b.plugin, workerPath: b.worker} {
		if err := copyFile(src, dst); err != nil {
			return err
		}
	}
	rbd, err := exec.LookPath("rbd")
	if err != nil {
		return err
	}
	b.rbd = rbd
	// The plugin finds its worker beside itself, as from Krew: nothing in
	// the environment names one or says where Ceph is.
	for _, kv := range base {
		if !strings.HasPrefix(kv, "OTTERSCALE_CEPH_") {
			b.pluginE = append(b.pluginE, kv)
		}
		if !strings.HasPrefix(kv, "CEPH_ARGS=") && !strings.HasPrefix(kv, "CEPH_CONF=") && !strings.HasPrefix(kv, "CEPH_KEYRING=") {
			b.rbdE = append(b.rbdE, kv)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// rookObjects writes Rook's Secret and ConfigMap for this Ceph, so that
// the plugin finds it through the API server when given no flags.
func (b *cephBench) rookObjects(ctx context.Context) error {
	core := b.env.Kube.CoreV1()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: rookNamespace}}
	if _, err := core.Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return err
	}
	return b.ceph.WriteRook(ctx, core, rookNamespace)
}

// snapshotImage creates image with snaps snapshots, writing 64 KiB into
// another object before the first and every writeEvery-th.
func (b *cephBench) snapshotImage(ctx context.Context, image string, snaps int) error {
	if err := b.ceph.CreateImage(ctx, image, benchImageBytes); err != nil {
		return err
	}
	const objectBytes = 4 << 20
	for i := range snaps {
		if i%writeEvery == 0 {
			data := pattern(64<<10, byte(i))
			offset := int64(i/writeEvery%(benchImageBytes/objectBytes)) * objectBytes
			if err := b.ceph.WriteImage(ctx, image, offset, data); err != nil {
				return err
			}
		}
		if _, err := b.ceph.RBD(ctx, "snap", "create", "--no-progress", fmt.Sprintf("%s/%s@setup-%03d", b.ceph.Pool, image, i)); err != nil {
			return err
		}
	}
	return nil
}

// pattern is n non-zero bytes (zeros would allocate nothing).
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i)*31 + seed | 1
	}
	return p
}

// cephFlags are the plugin's flags that give it this Ceph: no API server
// lookup.
func (b *cephBench) cephFlags() []string {
	return []string{"--ceph-mon-host", b.ceph.MonHost, "--ceph-key-file", b.keyFile}
}

// rbdFlags give rbd the same monitors and key, and no configuration file.
func (b *cephBench) rbdFlags() []string {
	return []string{"-c", os.DevNull, "-m", b.ceph.MonHost, "--id", "admin", "--keyfile", b.keyFile}
}

// ours is the plugin with args, then the Ceph flags.
func (b *cephBench) ours(args ...string) []string {
	return slices.Concat([]string{b.plugin}, args, b.cephFlags())
}

// rook is the plugin with args, finding Ceph through Rook.
func (b *cephBench) rook(args ...string) []string {
	return slices.Concat([]string{b.plugin}, args)
}

func (b *cephBench) theirs(args ...string) []string {
	return slices.Concat([]string{b.rbd}, b.rbdFlags(), args)
}

// envFor is the environment a command line runs in.
func (b *cephBench) envFor(argv []string) []string {
	if argv[0] == b.rbd || argv[0] == b.cephCLI {
		return b.rbdE
	}
	return b.pluginE
}

// runOnce runs argv to its exit and returns its wall-clock time.
func (b *cephBench) runOnce(ctx context.Context, argv []string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = b.envFor(argv)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s: %w\n%s", b.show(argv), err, out.String())
	}
	return d, nil
}

// show is a command line for the report: the temporary paths shortened.
func (b *cephBench) show(argv []string) string {
	s := strings.Join(argv, " ")
	for from, to := range map[string]string{b.keyFile: "KEYFILE", b.plugin: "kubectl-otterscale", b.rbd: "rbd", b.cephCLI: "ceph"} {
		if from != "" {
			s = strings.ReplaceAll(s, from, to)
		}
	}
	if b.ceph != nil {
		s = strings.ReplaceAll(s, b.ceph.MonHost, "MONHOST")
	}
	return s
}

// settle is the pause before each timed run (see timeSet).
const settle = 250 * time.Millisecond

// timeSet runs every command of set once untimed, then n rounds, the
// commands taking turns and the order rotating each round. argv gets the
// round (-1 for the warm-up).
func (b *cephBench) timeSet(ctx context.Context, set *timedSet, argv func(cmd, round int) []string) error {
	set.times = make([][]time.Duration, len(set.labels))
	for c := range set.labels {
		if _, err := b.runOnce(ctx, argv(c, -1)); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		set.argv = append(set.argv, strings.Fields(b.show(argv(c, 0))))
	}
	for i := range b.o.n {
		for j := range set.labels {
			c := (i + j) % len(set.labels)
			// Each run starts on a settled cluster and machine: the test
			// monitor proposes at most every 0.1 s (paxos propose
			// interval), so a snapshot create that follows another's
			// within that time waits out the rest of it, whichever tool
			// comes second; and the plugin's worker may still be exiting.
			time.Sleep(settle)
			d, err := b.runOnce(ctx, argv(c, i))
			if err != nil {
				return err
			}
			set.times[c] = append(set.times[c], d)
		}
	}
	return nil
}

// measureCreates times `snapshot create` against `rbd snap create` on the
// image with one snapshot and on the one with many; each run adds one.
func (b *cephBench) measureCreates(ctx context.Context) ([]timedSet, error) {
	var sets []timedSet
	for _, img := range []struct {
		image string
		snaps int
	}{{fewImage, 1}, {manyImage, b.o.snapshots}} {
		set := timedSet{
			title:  fmt.Sprintf("snapshot create on an image with %d snapshot(s)", img.snaps),
			labels: []string{"kubectl-otterscale snapshot create (flags)", "rbd snap create"},
			ratios: [][2]int{{0, 1}},
			target: cephTarget,
		}
		if b.o.rookCommands {
			set.labels = append(set.labels, "kubectl-otterscale snapshot create (Rook)")
			set.ratios = append(set.ratios, [2]int{2, 1})
		}
		spec := func(prefix string, round int) string {
			name := fmt.Sprintf("%s-%d", prefix, round)
			if round < 0 {
				name = prefix + "-warm"
			}
			return fmt.Sprintf("%s/%s@%s", b.ceph.Pool, img.image, name)
		}
		err := b.timeSet(ctx, &set, func(c, round int) []string {
			switch c {
			case 0:
				return b.ours("snapshot", "create", spec("ours", round))
			case 1:
				return b.theirs("snap", "create", "--no-progress", spec("rbd", round))
			default:
				return b.rook("snapshot", "create", spec("rook", round))
			}
		})
		if err != nil {
			return nil, err
		}
		sets = append(sets, set)
	}
	return sets, nil
}

// measureLists times the listings: `snapshot list` of the image with many
// snapshots against `rbd snap ls` and `rbd du` (which computes the same
// usage), and `image list POOL` against `rbd du -p POOL`.
func (b *cephBench) measureLists(ctx context.Context) ([]timedSet, error) {
	image := b.ceph.Pool + "/" + manyImage
	snaps := timedSet{
		title:  fmt.Sprintf("snapshot list of an image with %d snapshots (with each one's used bytes)", b.o.snapshots),
		labels: []string{"kubectl-otterscale snapshot list", "rbd snap ls", "rbd du"},
		ratios: [][2]int{{0, 1}, {0, 2}},
	}
	if err := b.timeSet(ctx, &snaps, func(c, _ int) []string {
		return [][]string{
			b.ours("snapshot", "list", image),
			b.theirs("snap", "ls", image),
			b.theirs("du", image),
		}[c]
	}); err != nil {
		return nil, err
	}
	images := timedSet{
		title:  fmt.Sprintf("image list of pool %s: 2 images, %d snapshots", b.ceph.Pool, b.o.snapshots+1),
		labels: []string{"kubectl-otterscale image list POOL", "rbd du -p POOL"},
		ratios: [][2]int{{0, 1}},
	}
	if err := b.timeSet(ctx, &images, func(c, _ int) []string {
		return [][]string{
			b.ours("image", "list", b.ceph.Pool),
			b.theirs("du", "-p", b.ceph.Pool),
		}[c]
	}); err != nil {
		return nil, err
	}
	return []timedSet{snaps, images}, nil
}

// workerConfig is the worker configuration the plugin makes from the Ceph
// flags.
func (b *cephBench) workerConfig() *cephconf.Config {
	return &cephconf.Config{MonHost: b.ceph.MonHost, User: "admin", Key: b.ceph.AdminKey, Source: "bench", Timeout: cephconf.DefaultTimeout}
}

// rbdSnapshots is `rbd snap ls --format json` of pool/image: name to
// protection.
func (b *cephBench) rbdSnapshots(ctx context.Context, image string) (map[string]bool, error) {
	out, err := b.ceph.RBD(ctx, "snap", "ls", "--format", "json", b.ceph.Pool+"/"+image)
	if err != nil {
		return nil, err
	}
	var snaps []struct {
		Name      string `json:"name"`
		Protected string `json:"protected"`
	}
	if err := json.Unmarshal(out, &snaps); err != nil {
		return nil, fmt.Errorf("rbd snap ls --format json: %w: %s", err, out)
	}
	m := make(map[string]bool, len(snaps))
	for _, s := range snaps {
		m[s.Name] = s.Protected == "true"
	}
	return m, nil
}

// cephSection writes the section. Every figure is one line that stands on
// its own, so that the README can quote it.
func cephSection(w io.Writer, c cephResult) {
	fmt.Fprintln(w)
	if c.skipped != "" {
		fmt.Fprintf(w, "Ceph: %s\n\n", c.skipped)
		return
	}
	fmt.Fprintf(w, "Ceph (issue 10): a local Ceph %s, one monitor and one memstore OSD on loopback (paxos propose interval 0.1 s);\n", cephVersion())
	fmt.Fprintf(w, "  the plugin as Krew installs it: kubectl-otterscale and otterscale-ceph copied into one directory, no $OTTERSCALE_CEPH_WORKER;\n")
	fmt.Fprintf(w, "  it gets Ceph from --ceph-mon-host and --ceph-key-file (no API server lookup), rbd the same from -m and --keyfile (-c %s);\n", os.DevNull)
	fmt.Fprintf(w, "  \"(Rook)\" rows find Ceph through Rook's Secret and ConfigMap in the local API server instead.\n")
	fmt.Fprintf(w, "  whole process, exec to exit; one untimed run of each, then N=%d of each, interleaved, order rotated each round,\n", len(firstTimes(c)))
	fmt.Fprintf(w, "  each started %v after the last (the monitor proposes at most every 0.1 s); median\n", settle)
	fmt.Fprintf(w, "  (setup %s, the whole section %s)\n", c.setup.Round(time.Second), c.elapsed.Round(time.Second))
	for _, set := range slices.Concat(c.create, c.list, c.admin) {
		timedSection(w, set)
	}
	inprocSection(w, c.inproc)
	rssSection(w, c.rss)
	cephSoakSection(w, c.soak)
}

func firstTimes(c cephResult) []time.Duration {
	for _, s := range slices.Concat(c.create, c.list) {
		if len(s.times) > 0 {
			return s.times[0]
		}
	}
	return nil
}

// timedSection writes a set: a line per command, a line per ratio.
func timedSection(w io.Writer, set timedSet) {
	fmt.Fprintf(w, "\n%s\n", set.title)
	med := make([]time.Duration, len(set.labels))
	for i, label := range set.labels {
		var p90 time.Duration
		med[i], p90 = percentiles(set.times[i])
		fmt.Fprintf(w, "  %s: median %.1f ms, p90 %.1f ms  (%s)\n", label, ms(med[i]), ms(p90), strings.Join(set.argv[i], " "))
	}
	for _, r := range set.ratios {
		ratio := float64(med[r[0]]) / float64(med[r[1]])
		line := fmt.Sprintf("  ratio %s / %s: %.2f", set.labels[r[0]], set.labels[r[1]], ratio)
		if set.target > 0 {
			line += fmt.Sprintf(" (target <= %.1f: %s)", set.target, metOrMissed(ratio <= set.target))
		}
		fmt.Fprintln(w, line)
	}
}

// cephVersion is `ceph --version`'s version, e.g. 16.2.15.
func cephVersion() string {
	out, err := exec.Command("ceph", "--version").Output()
	if err != nil {
		return "(unknown version)"
	}
	f := strings.Fields(string(out))
	if len(f) >= 3 {
		return f[2]
	}
	return strings.TrimSpace(string(out))
}
