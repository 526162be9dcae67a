// Command kubectl-otterscale is the kubectl plugin: `kubectl otterscale`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/otterscale/kubectl-otterscale/pkg/plugin"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

func main() {
	// In a Ceph connect probe this connects, reports and exits.
	storage.ServeProbe()
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd, err := plugin.NewCmdRoot(streams).ExecuteContextC(ctx)
	return plugin.HandleError(streams.ErrOut, cmd, err)
}
