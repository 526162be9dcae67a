package plugin_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/otterscale/kubectl-otterscale/internal/cephenv"
	"github.com/otterscale/kubectl-otterscale/internal/testenv"
	"github.com/otterscale/kubectl-otterscale/pkg/plugin"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// completion is what `kubectl-otterscale __complete ARGS...` printed: the
// choices, one a line, then ":<directive>".
type completion struct {
	choices   []string
	directive cobra.ShellCompDirective
	raw       string
}

// complete asks for completions in process, exactly as the shell scripts
// and kubectl's plugin completion ask the binary.
func complete(t *testing.T, args ...string) completion {
	t.Helper()
	r := run(t, append([]string{cobra.ShellCompRequestCmd}, args...)...)
	if r.code != plugin.ExitOK {
		t.Fatalf("__complete %q: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return parseCompletion(t, args, r.stdout)
}

func parseCompletion(t *testing.T, args []string, stdout string) completion {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	n, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		t.Fatalf("__complete %q: the last line is not :<directive>:\n%s", args, stdout)
	}
	c := completion{directive: cobra.ShellCompDirective(n), raw: stdout, choices: []string{}}
	for _, l := range lines[:len(lines)-1] {
		choice, _, _ := strings.Cut(l, "\t") // the description
		c.choices = append(c.choices, choice)
	}
	return c
}

// exactly fails unless the choices are want, in any order, and the
// directive is directive.
func (c completion) exactly(t *testing.T, directive cobra.ShellCompDirective, want ...string) {
	t.Helper()
	got := slices.Sorted(slices.Values(c.choices))
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) || c.directive != directive {
		t.Errorf("choices %q, directive %d; want %q, directive %d\n%s", got, c.directive, want, directive, c.raw)
	}
}

// includes fails unless every one of want is among the choices.
func (c completion) includes(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(c.choices, w) {
			t.Errorf("choices %q lack %q", c.choices, w)
		}
	}
}

const (
	noFile      = cobra.ShellCompDirectiveNoFileComp
	noFileSpace = cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
)

// Commands, flags and fixed flag values: nothing is read for them.
func TestCompletionCommandsAndFlags(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	complete(t, "").includes(t, "datavolume", "snapshot", "image", "proxy", "version", "completion")
	complete(t, "dv", "").exactly(t, noFile, "create", "get", "list", "delete", "extend", "watch", "wait")
	complete(t, "snap", "").exactly(t, noFile, "create", "list", "delete", "protect", "unprotect", "rollback")
	complete(t, "completion", "").exactly(t, noFile, "bash", "zsh", "fish", "powershell")
	complete(t, "dv", "get", "--").includes(t, "--all-namespaces", "--filter", "--output", "--no-headers", "--namespace", "--context", "--kubeconfig")
	complete(t, "snapshot", "delete", "--").includes(t, "--pvc", "--yes", "--ceph-mon-host", "--rook-namespace")

	complete(t, "dv", "get", "-o", "").exactly(t, noFile, "wide", "json", "yaml", "name")
	complete(t, "dv", "list", "--output", "j").exactly(t, noFile, "json")
	complete(t, "dv", "watch", "-o", "").exactly(t, noFile, "json")
	complete(t, "dv", "wait", "x", "-o", "").exactly(t, noFile, "json")
	complete(t, "version", "-o", "").exactly(t, noFile, "json", "yaml")
	complete(t, "dv", "get", "--filter", "").exactly(t, noFile, "all", "bootable", "non-bootable")
	complete(t, "dv", "create", "x", "--access-mode", "").exactly(t, noFile, "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
	complete(t, "dv", "create", "x", "--volume-mode", "").exactly(t, noFile, "Filesystem", "Block")

	// Arguments that are new names, or none at all, are not file names.
	complete(t, "dv", "create", "").exactly(t, noFile)
	complete(t, "version", "").exactly(t, noFile)
	complete(t, "proxy", "").exactly(t, noFile)
}

// The scripts complete the binary under its own name; the help explains how
// kubectl completes the plugin and reads "kubectl otterscale".
func TestCompletionScripts(t *testing.T) {
	for shell, marks := range map[string][]string{
		"bash":       {"complete -o default -F __start_kubectl-otterscale kubectl-otterscale", "__complete"},
		"zsh":        {"#compdef kubectl-otterscale", "compdef _kubectl-otterscale kubectl-otterscale", "__complete"},
		"fish":       {"complete -c kubectl-otterscale", "__complete"},
		"powershell": {"Register-ArgumentCompleter -CommandName 'kubectl-otterscale'", "__complete"},
	} {
		r := run(t, "completion", shell)
		r.want(t, plugin.ExitOK, marks[0])
		for _, m := range marks[1:] {
			if !strings.Contains(r.stdout, m) {
				t.Errorf("completion %s lacks %q", shell, m)
			}
		}
		run(t, "completion", shell, "--help").want(t, plugin.ExitOK, "kubectl otterscale completion "+shell)
	}
	// Without descriptions, the script asks the binary for none.
	run(t, "completion", "bash", "--no-descriptions").want(t, plugin.ExitOK, "__completeNoDesc")
	r := run(t, "completion", "--help")
	r.want(t, plugin.ExitOK, "kubectl_complete-otterscale")
	if !strings.Contains(r.stdout, `exec kubectl-otterscale __complete "$@"`) || !strings.Contains(r.stdout, "Usage:\n  kubectl otterscale completion") {
		t.Errorf("completion --help:\n%s", r.stdout)
	}
	// The script in krew/ is the one the help shows.
	script, err := os.ReadFile("../../krew/kubectl_complete-otterscale")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), `exec kubectl-otterscale __complete "$@"`) {
		t.Errorf("krew/kubectl_complete-otterscale:\n%s", script)
	}
	if r := run(t, "completion", "ksh"); r.code != plugin.ExitUsage || !strings.Contains(r.stderr, `unknown shell "ksh"`) {
		t.Errorf("completion ksh: exit %d, stderr %q", r.code, r.stderr)
	}
}

// Without a usable cluster a completion offers nothing, prints nothing but
// the directive, and gives up instead of hanging.
func TestCompletionQuietWithoutCluster(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(broken, []byte("{{{ not a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A server that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer func() { _ = conn.Close() }()
		}
	}()
	silent := "https://" + ln.Addr().String()
	for _, args := range [][]string{
		{"--kubeconfig", broken, "dv", "get", ""},
		{"--kubeconfig", broken, "-n", ""},
		{"--kubeconfig", broken, "--context", ""},
		{"--kubeconfig", broken, "dv", "create", "x", "--clone", ""},
		{"--server", "https://127.0.0.1:1", "dv", "get", ""},
		{"--server", silent, "--insecure-skip-tls-verify", "dv", "delete", ""},
		{"--server", silent, "--insecure-skip-tls-verify", "dv", "create", "x", "--storage-class", ""},
		{"--server", silent, "--insecure-skip-tls-verify", "snapshot", "list", "--pvc", ""},
	} {
		done := make(chan result, 1)
		go func() { done <- run(t, append([]string{cobra.ShellCompRequestCmd}, args...)...) }()
		select {
		case r := <-done:
			if r.code != plugin.ExitOK || r.stdout != fmt.Sprintf(":%d\n", noFile) {
				t.Errorf("__complete %q: exit %d, stdout %q; want only the directive", args, r.code, r.stdout)
			}
		case <-time.After(time.Minute):
			t.Fatalf("__complete %q did not give up", args)
		}
	}
}

// kubeconfigWithExec writes a copy of the test kubeconfig whose admin user
// gets its token from an exec credential plugin that insists on a terminal
// (interactiveMode Always) and records what client-go told it.
func kubeconfigWithExec(t *testing.T, env *testenv.Env) (path, seen string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(env.Config.BearerToken), 0o600); err != nil {
		t.Fatal(err)
	}
	seen = filepath.Join(dir, "exec-info")
	plug := filepath.Join(dir, "credential-plugin")
	script := fmt.Sprintf(`#!/bin/sh
printf '%%s' "$KUBERNETES_EXEC_INFO" > %q
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%%s"}}' "$(cat %q)"
`, seen, tokenFile)
	if err := os.WriteFile(plug, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion:      "client.authentication.k8s.io/v1",
		Command:         plug,
		InteractiveMode: clientcmdapi.AlwaysExecInteractiveMode,
	}}
	path = filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path, seen
}

// Namespaces, contexts, DataVolumes, claims and storage classes from the
// real API server, in the namespace and context given on the line.
func TestCompletionFromAPIServer(t *testing.T) {
	env := testenv.Require(t)
	ctx := t.Context()
	ns := "comp-dv"
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k := func(args ...string) completion {
		return complete(t, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	}
	for _, dv := range []string{"alpha", "beta"} {
		run(t, "--kubeconfig", env.Kubeconfig, "-n", ns, "dv", "create", dv, "--size", "1Gi").want(t, plugin.ExitOK, "created")
	}
	run(t, "--kubeconfig", env.Kubeconfig, "--context", testenv.ContextOther, "dv", "create", "gamma", "--size", "1Gi").want(t, plugin.ExitOK, "created")
	for _, c := range []struct{ ns, name string }{{ns, "claim-1"}, {testenv.OtherNamespace, "shared"}} {
		if _, err := env.Kube.CoreV1().PersistentVolumeClaims(c.ns).Create(ctx, &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: c.name},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// DataVolume names, in -n's namespace, or the context's.
	for _, verb := range []string{"get", "list", "delete", "watch", "extend", "wait"} {
		k("-n", ns, "dv", verb, "").exactly(t, noFile, "alpha", "beta")
	}
	k("dv", "get", "-n", ns, "a").exactly(t, noFile, "alpha")
	k("--namespace", ns, "dv", "delete", "beta", "").exactly(t, noFile, "alpha")
	k("-n", ns, "dv", "extend", "alpha", "").exactly(t, noFile)
	k("-n", ns, "dv", "wait", "beta", "").exactly(t, noFile)
	k("-n", ns, "dv", "get", "-A", "").exactly(t, noFile)
	k("--context", testenv.ContextOther, "dv", "get", "").exactly(t, noFile, "gamma")
	k("-n", "empty-or-missing", "dv", "get", "").exactly(t, noFile)
	// A user who may not list gets nothing, quietly.
	k("--context", testenv.ContextNobody, "-n", ns, "dv", "get", "").exactly(t, noFile)

	// Namespaces, and kubeconfig names.
	k("-n", "").includes(t, ns, testenv.DefaultNamespace, testenv.OtherNamespace, "kube-system")
	k("dv", "get", "--namespace", "comp-").exactly(t, noFile, ns)
	k("snapshot", "list", "--rook-namespace", "comp-").exactly(t, noFile, ns)
	k("--context", "").exactly(t, noFile, testenv.ContextAdmin, testenv.ContextOther, testenv.ContextNobody, testenv.ContextBadToken)
	k("--cluster", "").exactly(t, noFile, "otterscale-testenv")
	k("--user", "").exactly(t, noFile, "admin", "nobody", "badtoken")

	// Storage classes and claims.
	k("dv", "create", "x", "--storage-class", "").includes(t, "ceph-block")
	k("-n", ns, "snapshot", "create", "--pvc", "").exactly(t, noFile, "claim-1")
	k("-n", ns, "snapshot", "list", "--pvc", "c").exactly(t, noFile, "claim-1")
	clone := k("-n", ns, "dv", "create", "x", "--clone", "")
	clone.includes(t, "claim-1", testenv.OtherNamespace+"/", testenv.DefaultNamespace+"/")
	if slices.Contains(clone.choices, ns+"/") || clone.directive != noFileSpace {
		t.Errorf("--clone offers its own namespace, or adds a space after NAMESPACE/: %q %d", clone.choices, clone.directive)
	}
	k("-n", ns, "dv", "create", "x", "--clone", "cl").exactly(t, noFile, "claim-1")
	k("-n", ns, "dv", "create", "x", "--clone", testenv.OtherNamespace+"/").exactly(t, noFile, testenv.OtherNamespace+"/shared")

	// Credentials from an exec plugin that wants a terminal: completion runs
	// it without one (it must never read the shell's stdin) and still works.
	cfg, seen := kubeconfigWithExec(t, env)
	c := complete(t, "--kubeconfig", cfg, "-n", ns, "dv", "get", "")
	c.exactly(t, noFile, "alpha", "beta")
	info, err := os.ReadFile(seen)
	if err != nil {
		t.Fatalf("the exec plugin did not run: %v", err)
	}
	if !strings.Contains(string(info), `"interactive":false`) {
		t.Errorf("the exec plugin was run interactively: %s", info)
	}
}

// Without a Ceph worker, completion offers nothing, quietly.
func TestCompletionWithoutWorker(t *testing.T) {
	t.Setenv(worker.PathEnv, "/nonexistent/"+worker.BinaryName)
	complete(t, "image", "list", "--ceph-mon-host", "127.0.0.1:1", "").exactly(t, noFile)
	complete(t, "snapshot", "create", "--ceph-mon-host", "127.0.0.1:1", "").exactly(t, noFile)
}

// Pools, images and snapshots from the real Ceph, found with the --ceph-*
// flags on the line, one part of POOL/IMAGE@SNAP at a time.
func TestCompletionFromCeph(t *testing.T) {
	c := cephenv.Require(t)
	env := testenv.Require(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, image := range []string{"comp-disk", "comp-other"} {
		if err := c.CreateImage(ctx, image, 8<<20); err != nil {
			t.Fatal(err)
		}
	}
	for _, snap := range []string{"s1", "s2"} {
		if _, err := c.RBD(ctx, "snap", "create", c.Pool+"/comp-disk@"+snap); err != nil {
			t.Fatal(err)
		}
	}
	// A CephFS data pool: no RBD images, so never offered.
	if _, err := c.Ceph(ctx, "osd", "pool", "create", "comp-fsdata", "8", "8"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ceph(ctx, "osd", "pool", "application", "enable", "comp-fsdata", "cephfs"); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte(c.AdminKey), 0o600); err != nil {
		t.Fatal(err)
	}
	ceph := []string{"--kubeconfig", env.Kubeconfig, "--ceph-mon-host", c.MonHost, "--ceph-key-file", key}
	k := func(args ...string) completion {
		// The Ceph flags belong to the snapshot and image groups.
		return complete(t, append(append([]string{args[0]}, ceph...), args[1:]...)...)
	}
	pool := c.Pool

	k("image", "list", "").exactly(t, noFile, pool)
	k("image", "list", pool, "").exactly(t, noFile)
	for _, verb := range []string{"create", "list", "delete", "protect", "unprotect", "rollback"} {
		k("snapshot", verb, "").exactly(t, noFileSpace, pool+"/")
	}
	k("snapshot", "create", pool+"/comp-").exactly(t, noFileSpace, pool+"/comp-disk@", pool+"/comp-other@")
	k("snapshot", "delete", pool+"/comp-d").exactly(t, noFileSpace, pool+"/comp-disk@")
	k("snapshot", "list", pool+"/comp-").exactly(t, noFile, pool+"/comp-disk", pool+"/comp-other")
	k("snapshot", "delete", pool+"/comp-disk@").exactly(t, noFile, pool+"/comp-disk@s1", pool+"/comp-disk@s2")
	k("snapshot", "protect", pool+"/comp-disk@s2").exactly(t, noFile, pool+"/comp-disk@s2")
	k("snapshot", "rollback", pool+"/comp-other@").exactly(t, noFile)
	// A new snapshot's name is the user's to choose.
	k("snapshot", "create", pool+"/comp-disk@").exactly(t, noFile)
	k("snapshot", "list", pool+"/comp-disk", "").exactly(t, noFile)
	k("snapshot", "create", "nopool/").exactly(t, noFile)
	k("snapshot", "delete", pool+"/nope@").exactly(t, noFile)

	// Images: POOL/, then the pool's images; a new image's name is the
	// user's; delete completes every argument.
	for _, verb := range []string{"create", "resize", "delete"} {
		k("image", verb, "").exactly(t, noFileSpace, pool+"/")
	}
	k("image", "create", pool+"/").exactly(t, noFile)
	k("image", "resize", pool+"/comp-").exactly(t, noFile, pool+"/comp-disk", pool+"/comp-other")
	k("image", "delete", pool+"/comp-disk", pool+"/comp-o").exactly(t, noFile, pool+"/comp-other")
	k("image", "create", pool+"/x", "").exactly(t, noFile)
	k("pool", "list", "--application", "").exactly(t, noFile, "block", "file", "object")

	// The least-privileged ceph-csi user gets its pool too.
	userKey := filepath.Join(t.TempDir(), "user-key")
	if err := os.WriteFile(userKey, []byte(c.UserKey), 0o600); err != nil {
		t.Fatal(err)
	}
	complete(t, "image", "--ceph-mon-host", c.MonHost, "--ceph-user", c.User, "--ceph-key-file", userKey, "list", "").includes(t, pool)

	// With --pvc the argument is the bare SNAP of the claim's image.
	ns := "comp-ceph"
	image := csiClaimImage(t, env, c, ns)
	if _, err := c.RBD(ctx, "snap", "create", c.Pool+"/"+image+"@nightly"); err != nil {
		t.Fatal(err)
	}
	k("snapshot", "delete", "-n", ns, "--pvc", "web", "").exactly(t, noFile, "nightly")
	k("snapshot", "create", "-n", ns, "--pvc", "web", "").exactly(t, noFile)
	k("snapshot", "list", "-n", ns, "--pvc", "web", "").exactly(t, noFile)

	// Nothing printed could be a key.
	r := run(t, append(append([]string{cobra.ShellCompRequestCmd, "snapshot"}, ceph...), "delete", pool+"/comp-disk@")...)
	if strings.Contains(r.stdout+r.stderr, c.AdminKey) {
		t.Error("a completion printed the key")
	}
}
