package cephenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BrokenBinary builds, at path, a real executable that needs the shared
// library lib (say "librbdgone.so.1"), which is gone by the time it runs:
// the dynamic loader refuses it (exit 127) before main, naming lib as it
// names librbd.so.1 when it refuses otterscale-ceph on a host without
// librbd1. It needs gcc, which the Ceph-enabled build needs too.
func BrokenBinary(t testing.TB, path, lib string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sym := strings.NewReplacer(".", "_", "-", "_").Replace(strings.TrimPrefix(lib, "lib"))
	src := write("lib.c", "int "+sym+"(void) { return 0; }\n")
	main := write("main.c", "int "+sym+"(void);\nint main(void) { return "+sym+"(); }\n")
	so := filepath.Join(dir, lib)
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-o", so, src},
		{"-o", path, main, "-L" + dir, "-l:" + lib},
	} {
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	if err := os.Remove(so); err != nil {
		t.Fatal(err)
	}
	err := exec.Command(path).Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 127 {
		t.Fatalf("the broken binary ran: %v", err)
	}
}
