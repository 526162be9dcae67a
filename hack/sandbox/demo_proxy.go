package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
)

// snapshots shows the RBD commands against the sandbox's Ceph, found
// through Rook's objects in the cluster.
func (d *demo) snapshots() {
	image := cephenv.PoolName + "/" + sandboxImage
	d.say("RBD snapshots, made directly in Ceph. The sandbox runs a one-OSD Ceph, and Rook's objects in the\n"+
		"# cluster (namespace %s) tell the plugin where it is and which key to use: no flags needed.", rookNamespace)
	d.run(0, "otterscale", "image", "list")
	d.run(0, "otterscale", "snapshot", "create", image+"@before-upgrade")
	d.run(0, "otterscale", "snapshot", "protect", image+"@before-upgrade")
	d.run(0, "otterscale", "snapshot", "list", image)
	d.say("A protected snapshot is not deleted; the error says what to do.")
	d.run(5, "otterscale", "snapshot", "delete", image+"@before-upgrade", "--yes")
	d.run(0, "otterscale", "snapshot", "unprotect", image+"@before-upgrade")
}

// images shows pools and the image commands: what the web UI's
// block-device page does, from the command line.
func (d *demo) images() {
	image := cephenv.PoolName + "/demo-scratch"
	d.say("Pools, and RBD images created, resized and deleted in them.")
	d.run(0, "otterscale", "pool", "list", "--application", "block")
	d.run(0, "otterscale", "image", "create", image, "--size", "1Gi", "--features", "layering,exclusive-lock")
	d.run(0, "otterscale", "image", "resize", image, "--size", "2Gi")
	d.say("Shrinking cuts data off: it must be asked for.")
	d.run(5, "otterscale", "image", "resize", image, "--size", "512Mi")
	d.run(0, "otterscale", "image", "resize", image, "--size", "512Mi", "--allow-shrink")
	d.say("Off a terminal, deleting an image needs --yes.")
	d.run(2, "otterscale", "image", "delete", image)
	d.run(0, "otterscale", "image", "delete", image, "--yes")
}

var servingRe = regexp.MustCompile(`Serving the OtterScale API on (http://\S+) `)

// proxy starts `kubectl otterscale proxy` against the sandbox, calls it
// with curl and buf curl as a user would, and stops it with Ctrl-C.
func (d *demo) proxy(withCeph bool) error {
	d.say("Last, the proxy: the OtterScale API server's RPCs on localhost, with your kubeconfig, for the\n" +
		"# OtterScale web UI, curl, buf curl, grpcurl or any Connect, gRPC or gRPC-Web client.")
	args := []string{"otterscale", "proxy", "--port", "0"}
	name := "kubectl"
	if d.direct != "" {
		name, args = d.direct, args[1:]
	}
	fmt.Fprintf(d.out, "$ %s %s &\n", filepath.Base(name), strings.Join(args, " "))
	cmd := exec.CommandContext(d.ctx, name, args...)
	cmd.Env = append(os.Environ(), "PATH="+d.path, "KUBECONFIG="+d.env.Kubeconfig)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the proxy: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base, err := d.banner(stdout)
	if err != nil {
		d.failed++
		return fmt.Errorf("the proxy did not start: %w\n%s", err, logs.String())
	}
	procedure := func(p string) string { return base + "/otterscale." + p }

	curl, err := exec.LookPath("curl")
	if err != nil {
		d.say("(curl is not installed, so the demo cannot call the proxy with it.)")
	} else {
		d.say("The web UI's way: JSON over HTTP, written from the API's documentation.")
		d.runTool(0, curl, "-sS", "-H", "Content-Type: application/json",
			"-d", `{"namespace":"`+demoNamespace+`","name":"ubuntu-24"}`, procedure("instance.v1.InstanceService/GetDataVolume"))
		fmt.Fprintln(d.out)
		if withCeph {
			d.runTool(0, curl, "-sS", "-H", "Content-Type: application/json",
				"-d", `{"poolName":"`+cephenv.PoolName+`","imageName":"`+sandboxImage+`","snapshotName":"from-the-proxy"}`,
				procedure("storage.v1.StorageService/CreateImageSnapshot"))
			fmt.Fprintln(d.out)
			d.run(0, "otterscale", "snapshot", "list", cephenv.PoolName+"/"+sandboxImage)
		}
		d.say("A page on another site that points its name at 127.0.0.1 (DNS rebinding) is refused.")
		d.runTool(0, curl, "-sS", "-H", "Host: rebind.example.test", "-H", "Content-Type: application/json", "-d", `{}`,
			procedure("instance.v1.InstanceService/ListDataVolumes"))
	}

	if buf := d.buf(); buf == "" {
		d.say("(buf is not built here, so the demo skips buf curl: `make tools` builds it.)")
	} else {
		d.say("buf curl reads the schema from the proxy's reflection; here over gRPC.")
		d.runTool(0, buf, "curl", "--http2-prior-knowledge", "--protocol", "grpc",
			"-d", `{"namespace":"`+demoNamespace+`","filter":"BOOTABLE"}`, procedure("instance.v1.InstanceService/ListDataVolumes"))
	}

	d.say("Ctrl-C stops the proxy gracefully. Its log has one line per call, never a body or a credential:")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintf(d.out, "(the proxy ended with %v)\n", err)
			d.failed++
		}
	case <-time.After(20 * time.Second):
		fmt.Fprintln(d.out, "(the proxy did not stop within 20s)")
		d.failed++
	}
	fmt.Fprint(d.out, logs.String())
	return nil
}

// banner copies the proxy's start-up lines to the demo's output and
// returns the URL it serves on.
func (d *demo) banner(stdout io.Reader) (string, error) {
	lines := bufio.NewScanner(stdout)
	base := ""
	for lines.Scan() {
		fmt.Fprintln(d.out, lines.Text())
		if m := servingRe.FindStringSubmatch(lines.Text() + " "); m != nil {
			base = m[1]
		}
		// The example is the banner's last line.
		if base != "" && strings.HasPrefix(strings.TrimSpace(lines.Text()), "http://") {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return base, nil
		}
	}
	if err := lines.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no URL in its output")
}

// buf is the pinned buf that make built (OTTERSCALE_BUF), linked as "buf"
// so that the demo shows the command a user types; else buf on PATH.
func (d *demo) buf() string {
	if p := os.Getenv("OTTERSCALE_BUF"); p != "" {
		if _, err := os.Stat(p); err == nil {
			link := filepath.Join(d.env.Dir, "buf")
			if err := os.Symlink(p, link); err == nil || os.IsExist(err) {
				return link
			}
		}
	}
	p, _ := exec.LookPath("buf")
	return p
}
