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
	// Before anything else: a cgo-free kubectl-otterscale asking whether
	// this binary (as otterscale-ceph) can start.
	plugin.AnswerCephProbe()
	// In a Ceph connect probe this connects, reports and exits.
	storage.ServeProbe()
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root := plugin.NewCmdRoot(streams)
	// A build without Ceph support hands the RBD commands to otterscale-ceph
	// when it can; this returns only when the command runs here.
	helper := plugin.ExecCephHelper(ctx, root, os.Args[1:])
	cmd, err := root.ExecuteContextC(ctx)
	code := plugin.HandleError(streams.ErrOut, cmd, err)
	plugin.NoteCephHelper(streams.ErrOut, helper, err)
	return code
}
