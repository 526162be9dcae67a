package cephenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startTook is how long Main's Start took.
var startTook time.Duration

func TestMain(m *testing.M) {
	begin := time.Now()
	Main(m, func(*Cluster) error { startTook = time.Since(begin); return nil })
}

func TestStartTime(t *testing.T) {
	c := Require(t)
	t.Logf("Start took %s (dir %s, mon %s)", startTook.Round(time.Millisecond), c.Dir, c.MonHost)
	if startTook > 20*time.Second {
		t.Errorf("Start took %s, want seconds", startTook)
	}
}

func TestHealthOK(t *testing.T) {
	c := Require(t)
	out, err := c.Ceph(t.Context(), "health", "detail", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &health); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if health.Status != "HEALTH_OK" {
		t.Errorf("health = %s", out)
	}
}

// pattern returns n bytes of a non-zero pattern that differs with seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i%251) + seed | 1
	}
	return b
}

type duImage struct {
	Name     string `json:"name"`
	Snapshot string `json:"snapshot"`
	Used     int64  `json:"used_size"`
}

func du(t *testing.T, c *Cluster, image string, extra ...string) []duImage {
	t.Helper()
	out, err := c.RBD(t.Context(), append([]string{"du", "--format", "json"}, append(extra, c.Pool+"/"+image)...)...)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Images []duImage `json:"images"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	return got.Images
}

func TestImageSnapshotsAndDu(t *testing.T) {
	c := Require(t)
	ctx := t.Context()
	const mib = 1 << 20
	const image = "snapdu"
	if err := c.CreateImage(ctx, image, 16*mib); err != nil {
		t.Fatal(err)
	}
	first, second := pattern(mib, 1), pattern(2*mib, 7)
	if err := c.WriteImage(ctx, image, 0, first); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RBD(ctx, "snap", "create", c.Pool+"/"+image+"@s1"); err != nil {
		t.Fatal(err)
	}
	// Straddles the boundary of objects 1 and 2 (4 MiB each).
	if err := c.WriteImage(ctx, image, 8*mib-mib/2, second); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RBD(ctx, "snap", "create", c.Pool+"/"+image+"@s2"); err != nil {
		t.Fatal(err)
	}

	out, err := c.RBD(ctx, "snap", "ls", "--format", "json", c.Pool+"/"+image)
	if err != nil {
		t.Fatal(err)
	}
	var snaps []struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	}
	if err := json.Unmarshal(out, &snaps); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if len(snaps) != 2 || snaps[0].Name != "s1" || snaps[1].Name != "s2" || snaps[0].Size != 16*mib {
		t.Errorf("snap ls = %s", out)
	}

	// An overwrite in an object that s2 has.
	third := pattern(4096, 5)
	if err := c.WriteImage(ctx, image, mib, third); err != nil {
		t.Fatal(err)
	}

	// Per snapshot, what changed since the one before, in whole objects; the
	// head last.
	want := []duImage{{image, "s1", 4 * mib}, {image, "s2", 8 * mib}, {image, "", 4 * mib}}
	if got := du(t, c, image); !equalDu(got, want) {
		t.Errorf("du = %+v, want %+v", got, want)
	}
	// --exact counts an object that is new since the previous snapshot from
	// its start to its end (librbd's diff does), so the 2 MiB written at
	// 7.5 MiB count as 4 MiB of object 1 and 1.5 MiB of object 2; an
	// overwrite of an older object counts exactly.
	want = []duImage{{image, "s1", mib}, {image, "s2", 4*mib + 3*mib/2}, {image, "", 4096}}
	if got := du(t, c, image, "--exact"); !equalDu(got, want) {
		t.Errorf("du --exact = %+v, want %+v", got, want)
	}

	// The bytes landed exactly where they were written.
	exported, err := c.RBD(ctx, "export", "--no-progress", c.Pool+"/"+image, "-")
	if err != nil {
		t.Fatal(err)
	}
	wantImage := make([]byte, 16*mib)
	copy(wantImage, first)
	copy(wantImage[8*mib-mib/2:], second)
	copy(wantImage[mib:], third)
	if !bytes.Equal(exported, wantImage) {
		t.Errorf("exported image (%d bytes) differs from what was written", len(exported))
	}
}

func equalDu(got, want []duImage) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestCSIUser(t *testing.T) {
	c := Require(t)
	ctx := t.Context()
	if err := c.CreateImage(ctx, "csi-visible", 4<<20, "layering"); err != nil {
		t.Fatal(err)
	}
	asUser := []string{"--id", c.User, "--keyring", c.UserKeyring}

	out, err := c.RBD(ctx, append(asUser, "ls", "-p", c.Pool)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "csi-visible") {
		t.Errorf("rbd ls as %s = %q", c.User, out)
	}

	// As a CSI plugin connects: monitors and key, no ceph.conf.
	cmd := exec.CommandContext(ctx, "rbd", "-c", "/dev/null", "-m", c.MonHost, "--id", c.User, "--key", c.UserKey,
		"--client-mount-timeout", "5", "ls", "-p", c.Pool)
	cmd.Env = cephEnv()
	if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "csi-visible") {
		t.Errorf("rbd -m %s --key ... ls = %q, %v", c.MonHost, out, err)
	}

	// What the plugin does with images works with these caps.
	for _, args := range [][]string{
		{"snap", "create", c.Pool + "/csi-visible@by-csi"},
		{"snap", "ls", "--format", "json", c.Pool + "/csi-visible"},
		{"du", "--format", "json", c.Pool + "/csi-visible"},
	} {
		if _, err := c.RBD(ctx, append(asUser, args...)...); err != nil {
			t.Errorf("as %s: %v", c.User, err)
		}
	}

	_, err = c.Ceph(ctx, append(asUser, "osd", "pool", "create", "forbidden", "8")...)
	if err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("ceph osd pool create as %s: err = %v, want access denied", c.User, err)
	}
	if out, err := c.Ceph(ctx, "osd", "pool", "ls"); err != nil || strings.Contains(string(out), "forbidden") {
		t.Errorf("pools after the denied create: %q, %v", out, err)
	}
}

func TestStopStartMon(t *testing.T) {
	c := Require(t)
	ctx := t.Context()
	if err := c.StopMon(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.StartMon(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if err := c.StopMon(); err != nil {
		t.Errorf("second StopMon: %v", err)
	}

	begin := time.Now()
	_, err := c.Ceph(ctx, "-s", "--connect-timeout", "3")
	took := time.Since(begin)
	if err == nil {
		t.Fatal("ceph -s succeeded with the monitor stopped")
	}
	t.Logf("ceph -s without a monitor failed after %s: %v", took.Round(time.Millisecond), err)
	if took > 10*time.Second {
		t.Errorf("ceph -s took %s to fail", took)
	}

	begin = time.Now()
	// Conf's client mount timeout bounds rbd too.
	_, err = c.RBD(ctx, "ls", "-p", c.Pool)
	took = time.Since(begin)
	if err == nil {
		t.Fatal("rbd ls succeeded with the monitor stopped")
	}
	if took > 15*time.Second {
		t.Errorf("rbd ls took %s to fail", took)
	}

	begin = time.Now()
	if err := c.StartMon(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("StartMon took %s", time.Since(begin).Round(time.Millisecond))
	if _, err := c.Ceph(ctx, "-s", "--connect-timeout", "3"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateImage(ctx, "after-restart", 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteImage(ctx, "after-restart", 4096, pattern(4096, 3)); err != nil {
		t.Fatal(err)
	}
}

// A paused OSD hangs object operations (here until rbd's op timeout)
// while the monitor answers; once resumed, they work again.
func TestPauseResumeOSD(t *testing.T) {
	c := Require(t)
	ctx := t.Context()
	if err := c.PauseOSD(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.ResumeOSD(); err != nil {
			t.Error(err)
		}
	})
	if err := c.PauseOSD(); err != nil {
		t.Errorf("second PauseOSD: %v", err)
	}
	if _, err := c.Ceph(ctx, "mon", "stat"); err != nil {
		t.Errorf("the monitor does not answer while the OSD is paused: %v", err)
	}
	if _, err := c.RBD(ctx, "ls", "-p", c.Pool, "--rados-osd-op-timeout", "2"); err == nil {
		t.Fatal("rbd ls succeeded with the OSD paused")
	}
	if err := c.ResumeOSD(); err != nil {
		t.Fatal(err)
	}
	if err := c.ResumeOSD(); err != nil {
		t.Errorf("second ResumeOSD: %v", err)
	}
	if _, err := c.RBD(ctx, "ls", "-p", c.Pool); err != nil {
		t.Fatalf("rbd ls after ResumeOSD: %v", err)
	}
}

// TestStartStop starts a second cluster beside Main's and checks that Stop
// cleans up and is idempotent.
func TestStartStop(t *testing.T) {
	main := Require(t)
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	c, err := Start(ctx, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if c.MonHost == main.MonHost || c.Dir == main.Dir || c.FSID == main.FSID {
		t.Errorf("second cluster shares the first's mon host, dir or fsid: %s %s %s", c.MonHost, c.Dir, c.FSID)
	}
	if _, err := c.RBD(ctx, "ls", "-p", c.Pool); err != nil {
		t.Error(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Dir after Stop: %v", err)
	}
	if err := c.StartMon(ctx); err == nil {
		t.Error("StartMon after Stop succeeded")
	}
}
