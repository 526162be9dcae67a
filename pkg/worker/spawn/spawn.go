// Package spawn starts otterscale-ceph, the Ceph worker, as a process with
// one end of a socket pair for its fd 3, and finds its binary. Package
// worker does everything else; this part is kept to the standard library
// so that its init, which starts a worker ahead of time for a Ceph
// command, runs in the first milliseconds of the process rather than after
// the Kubernetes libraries' initialization: loading Ceph's libraries then
// overlaps with the plugin's own start.
package spawn

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// The protocol's process side, which worker.Serve reads.
const (
	// BinaryName is the worker's file name.
	BinaryName = "otterscale-ceph"
	// PathEnv names the worker binary to use, before the one beside
	// kubectl-otterscale and the one on PATH.
	PathEnv = "OTTERSCALE_CEPH_WORKER"
	// StartedEnv, set to 1, tells otterscale-ceph that its parent started
	// it: fd 3 is its socket, stdin its configuration.
	StartedEnv = "OTTERSCALE_CEPH_WORKER_STARTED"
	// SocketFD is the worker's end of the socket pair (ExtraFiles[0]).
	SocketFD = 3
)

// Proc is a started worker, before anything has been said to it.
type Proc struct {
	Cmd     *exec.Cmd
	Stdin   io.WriteCloser
	Stdout  io.ReadCloser
	Stderr  *Tail
	Socket  *os.File // the parent's end of the socket pair
	Started time.Time
}

// Start runs the worker binary at path. It waits for nothing: the worker
// loads its libraries and then waits for its configuration on stdin.
func Start(path string) (*Proc, error) {
	mine, theirs, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer theirs.Close()
	cmd := exec.Command(path)
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Env = append(os.Environ(), StartedEnv+"=1")
	p := &Proc{Cmd: cmd, Stderr: &Tail{}, Socket: mine}
	cmd.Stderr = p.Stderr
	if p.Stdin, err = cmd.StdinPipe(); err == nil {
		p.Stdout, err = cmd.StdoutPipe()
	}
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		_ = mine.Close()
		return nil, err
	}
	p.Started = time.Now()
	return p, nil
}

// Find answers the worker binary: where $OTTERSCALE_CEPH_WORKER says
// (ok false when that is not a file), else next to this executable
// (symlinks resolved: Krew links ~/.krew/bin/kubectl-otterscale into its
// store, where the worker is), else on PATH; "" when there is none.
func Find() (path string, ok bool) {
	if p := os.Getenv(PathEnv); p != "" {
		fi, err := os.Stat(p)
		return p, err == nil && fi.Mode().IsRegular()
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		self = ""
	}
	p := find(self, exec.LookPath)
	return p, p != ""
}

// find returns the worker beside self (the resolved executable) if there
// is one, else the one lookPath finds, else "".
func find(self string, lookPath func(string) (string, error)) string {
	name := BinaryName
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if self != "" {
		beside := filepath.Join(filepath.Dir(self), name)
		if fi, err := os.Stat(beside); err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0) {
			return beside
		}
	}
	if p, err := lookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	return ""
}

// Tail keeps the last bytes a worker wrote on stderr: librados' own
// complaints and, when it aborts, its last words. They never hold a key.
type Tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 4096

func (t *Tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailBytes {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailBytes:]...)
	}
	return len(b), nil
}

func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
