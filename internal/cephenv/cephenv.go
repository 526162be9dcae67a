// Package cephenv owns the real Ceph cluster that tests run against: one
// monitor and one OSD (memstore, in RAM) of Debian's Ceph packages on
// loopback ports, with cephx on, an "rbd" pool and a least-privilege client
// user like the one ceph-csi is given. Everything lives in one temporary
// directory; nothing needs root, a container, a kernel module or a ceph-mgr.
//
// The package drives the Ceph command-line tools (ceph, rbd, ceph-mon, ...)
// and uses only the standard library, so that tests of a build without cgo
// can use it too.
//
// Tests use it through Main (in TestMain) and Require; anything else can use
// Start and Stop directly.
package cephenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// The names Start gives things.
const (
	// PoolName is the replicated pool Start creates and initialises for RBD.
	PoolName = "rbd"
	// UserName is the least-privilege client user (client.csi) with the caps
	// ceph-csi's RBD node and controller plugins are given.
	UserName = "csi"
	// monName is the monitor's ID (mon.a); the OSD is osd.0.
	monName = "a"
)

// DefaultImageFeatures are the features CreateImage enables when it is given
// none: those of a ceph-csi RBD volume with fast-diff, so that `rbd du` and
// diffs are cheap.
var DefaultImageFeatures = []string{"layering", "exclusive-lock", "object-map", "fast-diff", "deep-flatten"}

// userCaps are client.csi's caps, as ceph-csi documents them for RBD.
var userCaps = []string{
	"mon", "profile rbd",
	"osd", "profile rbd pool=" + PoolName,
	"mgr", "profile rbd pool=" + PoolName,
}

// tools are the programs Start runs; Missing checks for them.
var tools = []string{"ceph-mon", "ceph-osd", "ceph", "rbd", "ceph-authtool", "monmaptool"}

// Missing returns nil when the Ceph programs the cluster needs are on PATH,
// and otherwise an error naming those that are missing and how to install
// them.
func Missing() error {
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("ceph cluster unavailable: %s not on PATH; `apt-get install ceph-mon ceph-osd ceph-common` installs them",
		strings.Join(missing, ", "))
}

// Options tunes Start. The zero value is fine.
type Options struct {
	// Logf, when set, receives progress messages.
	Logf func(format string, args ...any)
	// Mgr also starts a ceph-mgr (mgr.x), for what only a manager answers:
	// pool usage in `ceph df` and placement-group states. It costs some
	// seconds more; Start answers ErrNoMgr where ceph-mgr is missing.
	Mgr bool
}

// Cluster is a running monitor and OSD. All exported fields are read-only.
type Cluster struct {
	// Dir is a short temporary directory (under /tmp, so that the daemons'
	// unix socket paths stay short) holding everything the cluster writes:
	// ceph.conf, keyrings, the monitor's store, the OSD's directory, admin
	// sockets (run/) and the daemons' logs (mon.a.log, osd.0.log, and
	// *.mkfs.log of their creation). Stop removes it.
	Dir string
	// Conf is the path of ceph.conf: mon host, cephx, and in [client.admin]
	// and [client.csi] the keyring paths, so `-c Conf` alone makes a command
	// run as admin and `-c Conf --id csi` as the csi user.
	Conf string
	// MonHost is the monitor's address in mon_host form,
	// "[v2:127.0.0.1:P,v1:127.0.0.1:P+1]"; it is the same after StartMon.
	MonHost string
	// FSID is the cluster's fsid.
	FSID string
	// AdminKeyring is the path of a keyring holding only client.admin, and
	// AdminKey is its base64 key.
	AdminKeyring string
	AdminKey     string
	// User is UserName ("csi"), a client with ceph-csi's caps: mon 'profile
	// rbd', osd and mgr 'profile rbd pool=rbd'. It may use images in Pool but
	// not administer the cluster. UserKeyring is the path of a keyring
	// holding only client.csi, and UserKey its base64 key.
	User        string
	UserKey     string
	UserKeyring string
	// Pool is PoolName ("rbd"), a size-1 replicated pool initialised for RBD.
	Pool string

	opts  Options
	ports *portLock
	mon   *daemon.Process
	mgr   *daemon.Process // with Options.Mgr
	osd   *daemon.Process

	mu         sync.Mutex // serialises Stop, StopMon, StartMon, PauseOSD and ResumeOSD
	stopped    bool
	monStopped bool
	osdPaused  bool
}

// memstoreBytes is the OSD's capacity. memstore keeps objects in RAM (about
// twice what was written) and blocks writes forever once full; tests create
// images of tens of MiB at most.
const memstoreBytes = 1 << 30

// Client timeouts, in seconds, so that a dead monitor, a wrong key or a full
// OSD fails a command instead of hanging it (the defaults are 300 s and
// forever).
const (
	clientMountTimeout = 5
	clientOpTimeout    = 10
)

// Start brings up a monitor and one memstore OSD on free loopback ports,
// waits until the OSD is up and in, creates and initialises Pool and creates
// the csi user. It takes about two seconds. On failure it cleans up after
// itself and the error carries the tails of the daemons' logs.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if err := Missing(); err != nil {
		return nil, err
	}
	begin := time.Now()
	// Unix socket paths are limited to 107 bytes, and the daemons' admin
	// sockets live under Dir: stay short even when $TMPDIR is long.
	parent := ""
	if len(os.TempDir()) > 40 {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "ceph-")
	if err != nil {
		return nil, fmt.Errorf("create ceph cluster directory: %w", err)
	}
	c := &Cluster{
		Dir:          dir,
		Conf:         filepath.Join(dir, "ceph.conf"),
		AdminKeyring: filepath.Join(dir, "client.admin.keyring"),
		User:         UserName,
		UserKeyring:  filepath.Join(dir, "client."+UserName+".keyring"),
		Pool:         PoolName,
		opts:         opts,
	}
	started := false
	defer func() {
		if !started {
			_ = c.Stop()
		}
	}()

	if c.ports, err = reservePorts(); err != nil {
		return nil, err
	}
	base := c.ports.base
	c.MonHost = fmt.Sprintf("[v2:127.0.0.1:%d,v1:127.0.0.1:%d]", base, base+1)
	if c.FSID, err = newUUID(); err != nil {
		return nil, err
	}
	for _, sub := range []string{"mon", "osd", "run", "crash"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("create ceph cluster directory: %w", err)
		}
	}
	if err := os.WriteFile(c.Conf, []byte(c.config()), 0o600); err != nil {
		return nil, fmt.Errorf("write ceph.conf: %w", err)
	}

	if err := c.mkfsMon(ctx); err != nil {
		return nil, err
	}
	opts.Logf("cephenv: starting ceph-mon at %s", c.MonHost)
	if err := c.startMon(ctx); err != nil {
		return nil, err
	}
	opts.Logf("cephenv: ceph-mon ready after %s", time.Since(begin).Round(time.Millisecond))

	if err := c.mkfsOSD(ctx); err != nil {
		return nil, err
	}
	opts.Logf("cephenv: starting ceph-osd")
	if c.osd, err = daemon.Start(lookPath("ceph-osd"), c.osdArgs(), filepath.Join(dir, "osd.0.log"), cephEnv()); err != nil {
		return nil, err
	}
	if err := c.waitOSD(ctx); err != nil {
		return nil, err
	}
	opts.Logf("cephenv: ceph-osd up after %s", time.Since(begin).Round(time.Millisecond))

	if _, err := c.Ceph(ctx, "osd", "pool", "create", c.Pool, "8", "8", "replicated"); err != nil {
		return nil, daemon.WithTail(err, c.mon, c.osd)
	}
	// Writes the pool's first object, so it also waits for the PGs to peer.
	if _, err := c.RBD(ctx, "pool", "init", c.Pool); err != nil {
		return nil, daemon.WithTail(err, c.mon, c.osd)
	}
	if err := c.createUser(ctx); err != nil {
		return nil, err
	}
	if opts.Mgr {
		opts.Logf("cephenv: starting ceph-mgr")
		if err := c.startMgr(ctx); err != nil {
			return nil, err
		}
		opts.Logf("cephenv: ceph-mgr ready after %s", time.Since(begin).Round(time.Millisecond))
	}
	opts.Logf("cephenv: ready after %s (conf %s)", time.Since(begin).Round(time.Millisecond), c.Conf)
	started = true
	return c, nil
}

// config is the text of ceph.conf.
func (c *Cluster) config() string {
	base := c.ports.base
	d := c.Dir
	return fmt.Sprintf(`[global]
fsid = %[1]s
mon host = %[2]s
public addr = 127.0.0.1
cluster addr = 127.0.0.1
# The OSD binds its public, cluster and heartbeat ports (v2 and v1) here;
# a cluster owns the ports P..P+99.
ms bind port min = %[3]d
ms bind port max = %[4]d
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = %[5]s/run
crash dir = %[5]s/crash
# The daemons log to stderr (-d), which goes to DIR/mon.a.log and osd.0.log.
log to file = false
mon cluster log to file = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# The default 1 s makes every snapshot take a second, and startup 8 s.
paxos propose interval = 0.1
# There is no ceph-mgr; without this HEALTH_ERR "no active mgr" after 2 min.
mon mgr mkfs grace = 31536000
# The monitor shuts itself down when its disk has less than 5 %% free.
mon data avail warn = 2
mon data avail crit = 1

[mon]
mon data = %[5]s/mon

[osd]
osd data = %[5]s/osd
osd objectstore = memstore
memstore device bytes = %[6]d

[client]
client mount timeout = %[7]d
rados mon op timeout = %[8]d
rados osd op timeout = %[8]d

[client.admin]
keyring = %[9]s

[client.%[10]s]
keyring = %[11]s
`, c.FSID, c.MonHost, base+bindMin, base+bindMax, d, memstoreBytes,
		clientMountTimeout, clientOpTimeout, c.AdminKeyring, c.User, c.UserKeyring) + mgrConfig
}

// mgrConfig is ceph.conf's part for a ceph-mgr (Options.Mgr): statistics
// every second rather than every 5 s, so that a test waits less for
// figures to follow a write, and none of the Python modules, which load
// slowly and add pools of their own (devicehealth's
// device_health_metrics); `ceph df` and `pg dump` are the manager's C++.
const mgrConfig = `
[mgr]
mgr stats period = 1
mgr disabled modules = balancer crash devicehealth iostat nfs orchestrator pg_autoscaler progress rbd_support restful status telemetry volumes
`

// mkfsMon writes the keyrings and the monmap and creates the monitor's store.
func (c *Cluster) mkfsMon(ctx context.Context) error {
	monKey, err := c.genKey(ctx)
	if err != nil {
		return err
	}
	if c.AdminKey, err = c.genKey(ctx); err != nil {
		return err
	}
	admin := keyring("client.admin", c.AdminKey, "mds", "allow *", "mgr", "allow *", "mon", "allow *", "osd", "allow *")
	if err := os.WriteFile(c.AdminKeyring, []byte(admin), 0o600); err != nil {
		return fmt.Errorf("write admin keyring: %w", err)
	}
	// The monitor's initial auth database: its own key and client.admin's.
	monKeyring := filepath.Join(c.Dir, "mon.keyring")
	if err := os.WriteFile(monKeyring, []byte(keyring("mon.", monKey, "mon", "allow *")+admin), 0o600); err != nil {
		return fmt.Errorf("write monitor keyring: %w", err)
	}
	monmap := filepath.Join(c.Dir, "monmap")
	if _, err := c.run(ctx, nil, "monmaptool", "--create", "--addv", monName, c.MonHost,
		"--fsid", c.FSID, "--enable-all-features", monmap); err != nil {
		return err
	}
	return c.runLogged(ctx, filepath.Join(c.Dir, "mon."+monName+".mkfs.log"), "ceph-mon",
		"-c", c.Conf, "-d", "--mkfs", "-i", monName, "--monmap", monmap, "--keyring", monKeyring)
}

// startMon starts the monitor and waits until it answers.
func (c *Cluster) startMon(ctx context.Context) error {
	p, err := daemon.Start(lookPath("ceph-mon"), []string{"-c", c.Conf, "-d", "-i", monName},
		filepath.Join(c.Dir, "mon."+monName+".log"), cephEnv())
	if err != nil {
		return err
	}
	c.mon = p
	var last error
	err = poll(ctx, 100*time.Millisecond, &last, func(ctx context.Context) (bool, error) {
		if err := c.mon.Exited(); err != nil {
			return false, err
		}
		_, last = c.Ceph(ctx, "--connect-timeout", "5", "mon", "stat")
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("wait for ceph-mon: %w", daemon.WithTail(err, c.mon))
	}
	return nil
}

// mkfsOSD registers osd.0 with a new key, as ceph-volume does (`ceph-osd
// --mkfs --mkkey` fails with "failed to fetch mon config"), and creates its
// store.
func (c *Cluster) mkfsOSD(ctx context.Context) error {
	osdKey, err := c.genKey(ctx)
	if err != nil {
		return err
	}
	osdUUID, err := newUUID()
	if err != nil {
		return err
	}
	secrets := filepath.Join(c.Dir, "osd-secrets.json")
	b, _ := json.Marshal(map[string]string{"cephx_secret": osdKey})
	if err := os.WriteFile(secrets, b, 0o600); err != nil {
		return fmt.Errorf("write OSD secrets: %w", err)
	}
	if _, err := c.Ceph(ctx, "osd", "new", osdUUID, "0", "-i", secrets); err != nil {
		return daemon.WithTail(err, c.mon)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "osd", "keyring"), []byte(keyring("osd.0", osdKey)), 0o600); err != nil {
		return fmt.Errorf("write OSD keyring: %w", err)
	}
	// Its own log: memstore dumps the whole new store there.
	return c.runLogged(ctx, filepath.Join(c.Dir, "osd.0.mkfs.log"), "ceph-osd",
		"-c", c.Conf, "-d", "--mkfs", "-i", "0", "--osd-uuid", osdUUID)
}

func (c *Cluster) osdArgs() []string {
	return []string{"-c", c.Conf, "-d", "-i", "0"}
}

// waitOSD waits until the monitor reports osd.0 up and in.
func (c *Cluster) waitOSD(ctx context.Context) error {
	var last error
	err := poll(ctx, 100*time.Millisecond, &last, func(ctx context.Context) (bool, error) {
		for _, p := range []*daemon.Process{c.mon, c.osd} {
			if err := p.Exited(); err != nil {
				return false, err
			}
		}
		out, err := c.Ceph(ctx, "osd", "stat", "--format", "json")
		if err != nil {
			last = err
			return false, nil
		}
		var stat struct {
			Up int `json:"num_up_osds"`
			In int `json:"num_in_osds"`
		}
		if err := json.Unmarshal(out, &stat); err != nil {
			return false, fmt.Errorf("decode `ceph osd stat`: %w: %s", err, out)
		}
		last = fmt.Errorf("%d OSDs up, %d in", stat.Up, stat.In)
		return stat.Up == 1 && stat.In == 1, nil
	})
	if err != nil {
		return fmt.Errorf("wait for ceph-osd: %w", daemon.WithTail(err, c.osd, c.mon))
	}
	return nil
}

// createUser creates client.csi and writes its keyring.
func (c *Cluster) createUser(ctx context.Context) error {
	out, err := c.Ceph(ctx, append([]string{"auth", "get-or-create", "client." + c.User}, userCaps...)...)
	if err != nil {
		return daemon.WithTail(err, c.mon)
	}
	for line := range strings.Lines(string(out)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && strings.TrimSpace(k) == "key" {
			c.UserKey = strings.TrimSpace(v)
		}
	}
	if c.UserKey == "" {
		return fmt.Errorf("no key in the output of `ceph auth get-or-create client.%s`:\n%s", c.User, out)
	}
	if err := os.WriteFile(c.UserKeyring, out, 0o600); err != nil {
		return fmt.Errorf("write %s keyring: %w", c.User, err)
	}
	return nil
}

// Stop kills the daemons with their process groups, waits for them, and
// removes Dir. It is idempotent.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	if c.osdPaused {
		// A stopped process gets SIGKILL all the same; resume it anyway, so
		// that nothing waits on it.
		c.osd.Signal(syscall.SIGCONT)
	}
	var errs []error
	// The OSD is always killed this way: on SIGTERM memstore would first
	// write everything it holds to disk.
	for _, p := range []*daemon.Process{c.mgr, c.osd, c.mon} {
		if p != nil {
			errs = append(errs, p.Kill())
		}
	}
	c.ports.release()
	if c.Dir != "" {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove ceph cluster directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// StopMon shuts the monitor down (the OSD keeps running), so that clients
// cannot connect: with Conf's timeouts they fail after 5 s, or after
// --connect-timeout. It is idempotent.
func (c *Cluster) StopMon() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("stop ceph-mon: cluster is stopped")
	}
	if c.monStopped {
		return nil
	}
	begin := time.Now()
	if err := c.mon.Terminate(10 * time.Second); err != nil {
		return fmt.Errorf("stop ceph-mon: %w", err)
	}
	c.monStopped = true
	c.opts.Logf("cephenv: ceph-mon stopped in %s", time.Since(begin).Round(time.Millisecond))
	return nil
}

// StartMon starts the monitor StopMon stopped, on the same ports with the
// same store, and waits until it answers and reports the OSD up. It does
// nothing when the monitor runs.
func (c *Cluster) StartMon(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("start ceph-mon: cluster is stopped")
	}
	if !c.monStopped {
		return nil
	}
	begin := time.Now()
	if err := c.startMon(ctx); err != nil {
		// Leave it stopped, so that StartMon can be tried again.
		_ = c.mon.Kill()
		return fmt.Errorf("start ceph-mon: %w", err)
	}
	c.monStopped = false
	if err := c.waitOSD(ctx); err != nil {
		return fmt.Errorf("start ceph-mon: %w", err)
	}
	c.opts.Logf("cephenv: ceph-mon restarted in %s", time.Since(begin).Round(time.Millisecond))
	return nil
}

// PauseOSD stops the OSD with SIGSTOP: it keeps its connections and its
// place in the OSD map but answers nothing, so that every client operation
// on an object hangs until librados' op timeout (Conf's is 10 s) or for
// ever, as on a cluster whose disk or network has stalled. The monitor
// keeps answering. Always pair it with ResumeOSD (in t.Cleanup): Stop
// resumes a paused OSD before it kills it. It is idempotent.
func (c *Cluster) PauseOSD() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("pause ceph-osd: cluster is stopped")
	}
	if err := c.osd.Exited(); err != nil {
		return fmt.Errorf("pause ceph-osd: %w", err)
	}
	c.osd.Signal(syscall.SIGSTOP)
	c.osdPaused = true
	c.opts.Logf("cephenv: ceph-osd paused")
	return nil
}

// ResumeOSD lets the OSD PauseOSD stopped go on (SIGCONT). It does nothing
// when the OSD is not paused.
func (c *Cluster) ResumeOSD() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || !c.osdPaused {
		return nil
	}
	c.osd.Signal(syscall.SIGCONT)
	c.osdPaused = false
	c.opts.Logf("cephenv: ceph-osd resumed")
	return c.osd.Exited()
}

// Ceph runs the ceph CLI as client.admin (`ceph -c Conf ARGS...`) and returns
// its standard output. The error includes its standard error. Arguments such
// as --id, --keyring or -m come after -c and override Conf.
func (c *Cluster) Ceph(ctx context.Context, args ...string) ([]byte, error) {
	return c.run(ctx, nil, "ceph", append([]string{"-c", c.Conf}, args...)...)
}

// RBD runs the rbd CLI as client.admin (`rbd -c Conf ARGS...`) and returns
// its standard output. The error includes its standard error.
func (c *Cluster) RBD(ctx context.Context, args ...string) ([]byte, error) {
	return c.run(ctx, nil, "rbd", append([]string{"-c", c.Conf}, args...)...)
}

// CreateImage creates the format 2 image name in Pool of sizeBytes bytes
// with the given features, or DefaultImageFeatures when there are none.
func (c *Cluster) CreateImage(ctx context.Context, name string, sizeBytes int64, features ...string) error {
	if len(features) == 0 {
		features = DefaultImageFeatures
	}
	_, err := c.RBD(ctx, "create", "--size", strconv.FormatInt(sizeBytes, 10)+"B",
		"--image-format", "2", "--image-feature", strings.Join(features, ","), c.Pool+"/"+name)
	return err
}

// WriteImage writes data into the image in Pool at offset, exactly, through
// the image's head (as a client with the image open would).
//
// It feeds `rbd import-diff` a diff stream (format "rbd diff v1", see
// Ceph's doc/dev/rbd-diff.rst) of one data record; with no snapshot records
// in the stream the diff applies to the head and creates no snapshot. Like
// any RBD write, all-zero data makes objects read as zeros but, in aligned
// runs of 4 KiB, allocates no new space: write non-zero bytes to grow `rbd du`.
// The image must be at least offset+len(data) bytes.
func (c *Cluster) WriteImage(ctx context.Context, image string, offset int64, data []byte) error {
	if offset < 0 {
		return fmt.Errorf("write image %s: negative offset %d", image, offset)
	}
	if len(data) == 0 {
		return nil
	}
	var diff bytes.Buffer
	diff.WriteString("rbd diff v1\n")
	diff.WriteByte('w')
	_ = binary.Write(&diff, binary.LittleEndian, uint64(offset))
	_ = binary.Write(&diff, binary.LittleEndian, uint64(len(data)))
	diff.Write(data)
	diff.WriteByte('e')
	_, err := c.run(ctx, &diff, "rbd", "-c", c.Conf, "import-diff", "--no-progress", "-", c.Pool+"/"+image)
	return err
}

// run runs a Ceph program to completion and returns its standard output; the
// error includes its standard error.
func (c *Cluster) run(ctx context.Context, stdin *bytes.Buffer, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, lookPath(name), args...)
	cmd.Env = cephEnv()
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w%s", name, c.showArgs(args), err, indent(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// runLogged runs a Ceph program to completion with its output appended to
// logPath; the error includes the tail of that log.
func (c *Cluster) runLogged(ctx context.Context, logPath, name string, args ...string) error {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open %s log: %w", name, err)
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, lookPath(name), args...)
	cmd.Env = cephEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w:\n%s", name, c.showArgs(args), err, daemon.Tail(logPath))
	}
	return nil
}

// genKey returns a new cephx key.
func (c *Cluster) genKey(ctx context.Context) (string, error) {
	out, err := c.run(ctx, nil, "ceph-authtool", "--gen-print-key")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// showArgs is args for an error message, without the ever-present -c Conf.
func (c *Cluster) showArgs(args []string) string {
	if len(args) >= 2 && args[0] == "-c" && args[1] == c.Conf {
		args = args[2:]
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"*") {
			a = strconv.Quote(a)
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "\n  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// lookPath resolves a program Missing found; exec reports it otherwise.
func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// keyring is the text of a keyring section for entity with key and caps
// (pairs of service and cap).
func keyring(entity, key string, caps ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]\n\tkey = %s\n", entity, key)
	for i := 0; i+1 < len(caps); i += 2 {
		fmt.Fprintf(&b, "\tcaps %s = %q\n", caps[i], caps[i+1])
	}
	return b.String()
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("generate UUID: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:]), nil
}
