package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"

	"github.com/otterscale/kubectl-otterscale/gen/kubectlotterscale/worker/v1/workerv1connect"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/version"
	"github.com/otterscale/kubectl-otterscale/pkg/worker/spawn"
)

// exitNoCeph is otterscale-ceph's exit code when it was built without
// Ceph support.
const exitNoCeph = 3

// Handlers are what a worker serves once connected.
type Handlers struct {
	Storage storagev1connect.StorageServiceHandler
	Worker  workerv1connect.WorkerServiceHandler
}

// Connector connects to the cluster cfg describes. The error is a Connect
// error whose code and message go to the parent as they are.
type Connector func(cfg cephconf.Config) (Handlers, error)

// Serve is otterscale-ceph's main: the one place where a process becomes
// the Ceph worker. It returns the exit code; a worker whose parent is gone
// exits at once from inside (os.Exit), leaving librados' teardown, which
// can abort, to the kernel.
func Serve(args []string, connector Connector) int {
	if len(args) == 1 && args[0] == versionArg {
		fmt.Println(BinaryName, version.Get().Version)
		return 0
	}
	if os.Getenv(spawn.StartedEnv) != "1" || len(args) != 0 {
		fmt.Fprintf(os.Stderr, "%s is the Ceph worker of kubectl-otterscale, which starts it; it is not run by hand\n"+
			"(`%s %s` prints its version)\n", BinaryName, BinaryName, versionArg)
		return 2
	}
	sock, err := net.FileConn(os.NewFile(spawn.SocketFD, "socket"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: fd %d is not the socket kubectl-otterscale passes: %v\n", BinaryName, spawn.SocketFD, err)
		return 2
	}
	in := bufio.NewReader(os.Stdin)
	var cfg cephconf.Config
	if err := json.NewDecoder(in).Decode(&cfg); err != nil {
		// The parent went away before it sent a configuration (a spare
		// worker nobody needed): nothing to say.
		return 0
	}
	handlers, err := connector(cfg)
	answer := hello{}
	if err != nil {
		answer = hello{Code: connect.CodeOf(err).String(), Message: errorMessage(err)}
	}
	if err := json.NewEncoder(os.Stdout).Encode(answer); err != nil || answer.Code != "" {
		return 1
	}
	_ = os.Stdout.Close()
	// The parent closes stdin to stop the worker, and the kernel closes it
	// when the parent dies: either way, leave now.
	go func() {
		_, _ = io.Copy(io.Discard, in)
		os.Exit(0)
	}()
	serveConn(sock, handlers)
	os.Exit(0)
	return 0
}

// serveConn serves the handlers on the one connection, HTTP/2 with prior
// knowledge, until it closes.
func serveConn(conn net.Conn, h Handlers) {
	opts := connect.WithInterceptors(markErrors{})
	mux := http.NewServeMux()
	mux.Handle(storagev1connect.NewStorageServiceHandler(h.Storage, opts))
	mux.Handle(workerv1connect.NewWorkerServiceHandler(h.Worker, opts))
	// The parent's calls are bounded by the worker's own concurrency
	// limit, not by streams.
	srv := &http2.Server{MaxConcurrentStreams: maxStreams}
	srv.ServeConn(conn, &http2.ServeConnOpts{Handler: mux})
}

// maxStreams is far above any concurrency the parent asks for.
const maxStreams = 1 << 16

// markErrors sets errorHeader on every error the worker answers, so that
// the parent can tell them from a dead connection.
type markErrors struct{}

func (markErrors) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		if err != nil {
			var ce *connect.Error
			if !errors.As(err, &ce) {
				ce = connect.NewError(connect.CodeUnknown, err)
			}
			ce.Meta().Set(errorHeader, "1")
			return nil, ce
		}
		return resp, nil
	}
}

func (markErrors) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (markErrors) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func errorMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}
