package cephenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// mgrName is the manager's ID (mgr.x).
const mgrName = "x"

// ErrNoMgr is Start's error, with Options.Mgr, where ceph-mgr is not
// installed; errors.Is finds it.
var ErrNoMgr = errors.New("ceph-mgr is not on PATH; `apt-get install ceph-mgr` installs it")

// startMgr starts a ceph-mgr and waits until it serves what only a manager
// knows: `ceph df` with the pools' usage and `ceph pg dump` with every
// placement group's state. Only what asks for those figures needs one; the
// rest of the cluster works without (its usage and PG states are empty).
func (c *Cluster) startMgr(ctx context.Context) error {
	bin, err := exec.LookPath("ceph-mgr")
	if err != nil {
		return ErrNoMgr
	}
	dir := filepath.Join(c.Dir, "mgr")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("create ceph-mgr directory: %w", err)
	}
	out, err := c.Ceph(ctx, "auth", "get-or-create", "mgr."+mgrName, "mon", "allow profile mgr", "osd", "allow *", "mds", "allow *")
	if err != nil {
		return daemon.WithTail(err, c.mon)
	}
	keyringPath := filepath.Join(dir, "keyring")
	if err := os.WriteFile(keyringPath, out, 0o600); err != nil {
		return fmt.Errorf("write ceph-mgr keyring: %w", err)
	}
	c.mgr, err = daemon.Start(bin, []string{"-c", c.Conf, "-d", "-i", mgrName, "--mgr-data", dir, "--keyring", keyringPath},
		filepath.Join(c.Dir, "mgr."+mgrName+".log"), cephEnv())
	if err != nil {
		return err
	}
	var last error
	err = poll(ctx, 250*time.Millisecond, &last, func(ctx context.Context) (bool, error) {
		if err := c.mgr.Exited(); err != nil {
			return false, err
		}
		out, err := c.Ceph(ctx, "pg", "dump", "pgs_brief", "--format", "json")
		if err != nil {
			last = err
			return false, nil
		}
		var dump struct {
			Ready bool              `json:"pg_ready"`
			Stats []json.RawMessage `json:"pg_stats"`
		}
		if err := json.Unmarshal(out, &dump); err != nil {
			last = fmt.Errorf("decode `ceph pg dump pgs_brief`: %w", err)
			return false, nil
		}
		last = fmt.Errorf("pg_ready %v, %d placement groups reported", dump.Ready, len(dump.Stats))
		return dump.Ready && len(dump.Stats) > 0, nil
	})
	if err != nil {
		return fmt.Errorf("wait for ceph-mgr: %w", daemon.WithTail(err, c.mgr, c.mon))
	}
	return nil
}
