// Command kubectl-otterscale is the kubectl plugin: `kubectl otterscale`.
// It is always built without cgo: its Ceph calls run in otterscale-ceph
// (cmd/otterscale-ceph, package worker).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/otterscale/kubectl-otterscale/pkg/plugin"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root := plugin.NewCmdRoot(streams)
	cmd, err := root.ExecuteContextC(ctx)
	return plugin.HandleError(streams.ErrOut, cmd, err)
}
