package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

const demoNamespace = "vms"

// runDemo drives the real binary, through the real kubectl, against the
// running sandbox for `make demo`; the sandbox stops when it returns.
func runDemo(ctx context.Context, env *testenv.Env, ceph *cephenv.Cluster, out io.Writer) error {
	bin, err := pluginBinary()
	if err != nil {
		return err
	}
	d := &demo{ctx: ctx, env: env, out: out, path: filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")}
	if _, err := exec.LookPath("kubectl"); err != nil {
		// Without kubectl the plugin still runs as itself.
		d.direct = bin
	}
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}

	d.say("A local kube-apiserver with the CDI CRDs is up at %s; KUBECONFIG=%s.", env.Server, env.Kubeconfig)
	d.say("The plugin binary %s is on PATH, so kubectl finds it as `kubectl otterscale`.", bin)
	d.run(0, "otterscale", "version")

	d.say("Create a blank disk, an HTTPS import marked as a boot image, and list them.")
	d.run(0, "otterscale", "dv", "create", "scratch", "--size", "2Gi", "-n", demoNamespace)
	d.run(0, "otterscale", "dv", "create", "debian-12", "-n", demoNamespace, "--size", "10Gi", "--boot-image",
		"--url", "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2")
	d.run(0, "otterscale", "dv", "list", "-n", demoNamespace)

	d.say("[sandbox stand-in for CDI] No CDI controller runs here, so the sandbox now does what CDI would:")
	d.say("[sandbox stand-in for CDI] as CDI without a CSI driver, it binds the claim debian-12 and reports the import at 45.67%%.")
	if err := d.actAsCDI("debian-12"); err != nil {
		return err
	}
	d.run(0, "otterscale", "dv", "list", "-n", demoNamespace, "-o", "wide")
	d.run(0, "otterscale", "dv", "get", "debian-12", "-n", demoNamespace, "-o", "yaml")

	d.say("Clone the boot image into another DataVolume; the size comes from the source.")
	d.run(0, "otterscale", "dv", "create", "web-disk", "-n", demoNamespace, "--clone", demoNamespace+"/debian-12")
	d.run(0, "otterscale", "dv", "list", "-n", demoNamespace, "--filter", "bootable")

	d.say("Grow the boot image's claim to 20Gi; the claim's request is what changes.")
	d.run(0, "otterscale", "dv", "extend", "debian-12", "--size", "20Gi", "-n", demoNamespace)
	d.run(0, "get", "pvc", "debian-12", "-n", demoNamespace, "-o", "jsonpath={.spec.resources.requests.storage}{\"\\n\"}")

	d.say("Bad input is refused before anything is written, with a clear message and exit code.")
	d.run(2, "otterscale", "dv", "create", "Web_Disk", "--size", "1Gi", "-n", demoNamespace)
	d.run(2, "otterscale", "dv", "create", "ftp-disk", "--size", "1Gi", "--url", "ftp://example.com/x.img", "-n", demoNamespace)
	d.run(4, "otterscale", "dv", "create", "scratch", "--size", "1Gi", "-n", demoNamespace)
	d.run(2, "otterscale", "dv", "extend", "debian-12", "--size", "10Gi", "-n", demoNamespace)
	d.run(5, "otterscale", "dv", "extend", "scratch", "--size", "4Gi", "-n", demoNamespace)

	d.say("Follow an import live. On a terminal this is the compact wait view; in a pipe, a line per change.")
	d.say("[sandbox stand-in for CDI] The sandbox now plays CDI with ceph-csi: prime claim bound, progress 0%% -> 100%%, Succeeded.")
	d.run(0, "otterscale", "dv", "create", "ubuntu-24", "-n", demoNamespace, "--size", "8Gi", "--boot-image",
		"--url", "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img")
	d.runLive(0, func() error { return d.simulateImport("ubuntu-24") },
		"otterscale", "dv", "wait", "ubuntu-24", "-n", demoNamespace, "--timeout", "2m")

	d.say("A URL that answers 404: real CDI never marks the import Failed, it restarts the importer for ever;")
	d.say("the wait reads the importer's own words and ends at once with exit 8 (a source that may come back gets --max-restarts tries).")
	d.say("[sandbox stand-in for CDI] The sandbox now plays the importer failing on a 404, as CDI v1.63 showed it.")
	d.run(0, "otterscale", "dv", "create", "missing-image", "-n", demoNamespace, "--size", "8Gi",
		"--url", "https://cloud-images.ubuntu.com/noble/current/no-such-image.img")
	d.runLive(8, func() error { return d.simulateNotFound("missing-image") },
		"otterscale", "dv", "wait", "missing-image", "-n", demoNamespace, "--timeout", "2m")

	d.say("Delete three of them and list every namespace.")
	d.run(0, "otterscale", "dv", "delete", "scratch", "web-disk", "missing-image", "-n", demoNamespace)
	d.run(0, "otterscale", "dv", "list", "-A")

	if ceph != nil {
		d.snapshots()
		d.images()
	} else {
		d.say("(Ceph is not installed here, so the demo skips the RBD snapshots: `make system-deps` installs it.)")
	}
	if err := d.proxy(ceph != nil); err != nil {
		return err
	}

	if d.failed > 0 {
		return fmt.Errorf("%d demo steps did not end as expected", d.failed)
	}
	d.say("Done. `make testenv` keeps a sandbox running to try more by hand (e.g. `kubectl otterscale dv watch -A`).")
	return nil
}

type demo struct {
	ctx    context.Context
	env    *testenv.Env
	out    io.Writer
	path   string
	direct string // the plugin binary, when kubectl is not installed
	failed int
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "\n# "+format+"\n", args...)
}

// run runs `kubectl ARGS...` and prints it as a user would see it,
// checking the exit code the step should end with.
func (d *demo) run(wantCode int, args ...string) {
	name := "kubectl"
	if d.direct != "" && args[0] == "otterscale" {
		name, args = d.direct, args[1:]
	}
	d.runTool(wantCode, name, args...)
}

// runTool runs any program the way run runs kubectl.
func (d *demo) runTool(wantCode int, name string, args ...string) {
	fmt.Fprintf(d.out, "$ %s %s\n", filepath.Base(name), strings.Join(quote(args), " "))
	cmd := exec.CommandContext(d.ctx, name, args...)
	cmd.Env = append(os.Environ(), "PATH="+d.path, "KUBECONFIG="+d.env.Kubeconfig)
	cmd.Stdout, cmd.Stderr = d.out, d.out
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		fmt.Fprintf(d.out, "(could not run: %v)\n", err)
		d.failed++
		return
	}
	if code != 0 || wantCode != 0 {
		fmt.Fprintf(d.out, "(exit code %d)\n", code)
	}
	if code != wantCode {
		fmt.Fprintf(d.out, "(unexpected: the demo expected exit code %d)\n", wantCode)
		d.failed++
	}
}

// runLive runs `kubectl ARGS...` on the demo's own terminal, so that a
// full-screen or live view shows as it would for a user, while act plays
// its part beside it.
func (d *demo) runLive(wantCode int, act func() error, args ...string) {
	fmt.Fprintf(d.out, "$ kubectl %s\n", strings.Join(quote(args), " "))
	name := "kubectl"
	if d.direct != "" {
		name, args = d.direct, args[1:]
	}
	cmd := exec.CommandContext(d.ctx, name, args...)
	cmd.Env = append(os.Environ(), "PATH="+d.path, "KUBECONFIG="+d.env.Kubeconfig)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, d.out, d.out
	if f, ok := d.out.(*os.File); ok {
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(d.out, "(could not run: %v)\n", err)
		d.failed++
		return
	}
	actErr := act()
	err := cmd.Wait()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	}
	if actErr != nil {
		fmt.Fprintf(d.out, "(the stand-in for CDI failed: %v)\n", actErr)
		d.failed++
	}
	if code != wantCode {
		fmt.Fprintf(d.out, "(unexpected: exit code %d, the demo expected %d)\n", code, wantCode)
		d.failed++
	}
}

// simulateImport moves an import from 0 to 100% over some seconds, as
// CDI's importer would report it. Demo scaffolding: internal/cdisim.
func (d *demo) simulateImport(name string) error {
	sim, err := cdisim.New(d.env.Config)
	if err != nil {
		return err
	}
	ctx := d.ctx
	if err := sim.Start(ctx, demoNamespace, name); err != nil {
		return err
	}
	time.Sleep(400 * time.Millisecond)
	if err := sim.Schedule(ctx, demoNamespace, name); err != nil {
		return err
	}
	time.Sleep(400 * time.Millisecond)
	if err := sim.Run(ctx, demoNamespace, name); err != nil {
		return err
	}
	for pct := 0.0; pct < 100; pct += 7.31 {
		time.Sleep(400 * time.Millisecond)
		if err := sim.Progress(ctx, demoNamespace, name, pct); err != nil {
			return err
		}
	}
	time.Sleep(400 * time.Millisecond)
	return sim.Succeed(ctx, demoNamespace, name)
}

// simulateNotFound plays an import whose source answers 404: the importer
// starts, exits with CDI's message (pkg/importer/http-datasource.go), and
// CDI counts the restart. Demo scaffolding: internal/cdisim.
func (d *demo) simulateNotFound(name string) error {
	sim, err := cdisim.New(d.env.Config)
	if err != nil {
		return err
	}
	ctx := d.ctx
	if err := sim.Start(ctx, demoNamespace, name); err != nil {
		return err
	}
	time.Sleep(400 * time.Millisecond)
	if err := sim.Run(ctx, demoNamespace, name); err != nil {
		return err
	}
	time.Sleep(800 * time.Millisecond)
	return sim.Crash(ctx, demoNamespace, name, "Unable to connect to http data source: expected status code 200, got 404. Status: 404 Not Found")
}

// actAsCDI plays CDI for one DataVolume as it goes without a CSI driver
// (set-up A of internal/cdisim), where the DataVolume's own claim binds when
// the import is scheduled: claim created and bound, importer running, the
// import reported at 45.67%. Demo scaffolding, never part of the plugin.
func (d *demo) actAsCDI(name string) error {
	sim, err := cdisim.NewWith(d.env.Config, cdisim.Options{Setup: cdisim.SetupA})
	if err != nil {
		return err
	}
	if err := sim.Start(d.ctx, demoNamespace, name); err != nil {
		return err
	}
	if err := sim.Schedule(d.ctx, demoNamespace, name); err != nil {
		return err
	}
	return sim.Progress(d.ctx, demoNamespace, name, 45.67)
}

// pluginBinary is the binary `make demo` built.
func pluginBinary() (string, error) {
	bin := os.Getenv("OTTERSCALE_BINARY")
	if bin == "" {
		bin = filepath.Join("bin", "kubectl-otterscale")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("the plugin binary is missing (%w): run `make build` first", err)
	}
	return abs, nil
}

func quote(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " {}\"'\\$") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}
