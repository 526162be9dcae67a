package cephenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// workerPackage is the Ceph worker's main package.
const workerPackage = "github.com/otterscale/kubectl-otterscale/cmd/otterscale-ceph"

// EnsureWorker makes sure that $OTTERSCALE_CEPH_WORKER names an
// otterscale-ceph for the tests' Ceph calls to run in: under `make test`,
// the one `make build` put beside $OTTERSCALE_BINARY; a plain `go test` gets
// one built here with the same tags (go's build cache makes that quick),
// renamed into place so that test binaries running side by side each see
// a whole file. It is built into a directory of each checkout's own (named
// after the module's directory): two checkouts tested side by side must
// not run each other's worker.
func EnsureWorker(ctx context.Context, logf func(string, ...any)) error {
	if p := os.Getenv(worker.PathEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("$%s: %w (make build builds it)", worker.PathEnv, err)
		}
		return nil
	}
	if bin := os.Getenv("OTTERSCALE_BINARY"); bin != "" {
		beside := filepath.Join(filepath.Dir(bin), worker.BinaryName)
		if _, err := os.Stat(beside); err == nil {
			return os.Setenv(worker.PathEnv, beside)
		}
	}
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	sum := sha256.Sum256([]byte(filepath.Dir(strings.TrimSpace(string(gomod)))))
	// The file keeps the worker's name: tests find its processes by it.
	dir := filepath.Join(os.TempDir(), "kubectl-otterscale-test-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, worker.BinaryName)
	f, err := os.CreateTemp(dir, "build-*")
	if err != nil {
		return err
	}
	out := f.Name()
	_ = f.Close()
	defer os.Remove(out)
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "pacific", "-o", out, workerPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", worker.BinaryName, err, msg)
	}
	if err := os.Rename(out, path); err != nil {
		return err
	}
	if logf != nil {
		logf("built %s as %s", worker.BinaryName, path)
	}
	return os.Setenv(worker.PathEnv, path)
}
