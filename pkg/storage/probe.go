//go:build cgo && pacific

package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
)

// probeEnv makes a process started by probeConnect a connect probe.
const probeEnv = "OTTERSCALE_CEPH_CONNECT_PROBE"

// probing says this executable answers probes (ServeProbe was called), so
// dial may try each connection in a child process first.
var probing atomic.Bool

// ServeProbe must be the first thing main does (and the TestMain of every
// package whose tests connect to Ceph). In a probe started by this
// package, it connects to Ceph, reports how that went on stdout and exits;
// anywhere else it turns probing on and returns.
//
// Why a child process: when a connection attempt fails (a refused key, no
// monitor answering), librados 16.2 tears the half-made client down inside
// rados_connect, and under CPU load that teardown intermittently aborts the
// whole process (a librados thread throws std::system_error, "Invalid
// argument", and terminate() follows; Ceph's own `ceph` tool avoids the
// same teardown races). A failing attempt in a child costs the child only:
// the command still reports the refused key or the unreachable cluster
// with its own code, and the proxy stays up. The price is one extra
// process per connection, tens of milliseconds.
func ServeProbe() {
	if os.Getenv(probeEnv) == "" {
		probing.Store(true)
		return
	}
	runProbe(os.Stdin, os.Stdout)
	// Leave the connection to the exit: see radosBackend.close.
	os.Exit(0)
}

// probeResult is what a probe reports: an empty code for a connection
// made, else the error's code and message (never a key: the messages are
// built from Config.String).
type probeResult struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

func runProbe(in io.Reader, out io.Writer) {
	var cfg Config
	var res probeResult
	if err := json.NewDecoder(in).Decode(&cfg); err != nil {
		res = probeResult{Code: connect.CodeInternal.String(), Message: "connect probe: read the configuration: " + err.Error()}
	} else if _, err := connectInProcess(&cfg); err != nil {
		res = probeResult{Code: connect.CodeOf(err).String(), Message: errorMessage(err)}
	}
	_ = json.NewEncoder(out).Encode(res)
}

func errorMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}

// probeConnect connects once in a child process (this executable, started
// with probeEnv set; the configuration, key included, goes through its
// stdin, never its arguments or environment) and answers the error that
// connecting gave there, or nil when it worked.
func probeConnect(cfg *Config) error {
	exe, err := os.Executable()
	if err != nil {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("connect to %s: find this program to probe with: %w", cfg, err))
	}
	input, err := json.Marshal(cfg)
	if err != nil {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("connect to %s: %w", cfg, err))
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// Connecting is bounded by the timeout; starting the child and
	// librados is not, but takes well under a second.
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), probeEnv+"=1")
	cmd.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	// The child's stderr holds librados' own complaints, such as
	// handle_auth_bad_method for a refused key: the error says it better.
	cmd.Stdout, cmd.Stderr = &out, io.Discard
	runErr := cmd.Run()
	var res probeResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		if runErr == nil {
			runErr = err
		}
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("connect to %s: the Ceph client library failed while connecting (%v); try again", cfg, runErr))
	}
	if res.Code == "" {
		return nil
	}
	var code connect.Code
	if err := code.UnmarshalText([]byte(res.Code)); err != nil {
		code = connect.CodeUnknown
	}
	return connect.NewError(code, errors.New(res.Message))
}
