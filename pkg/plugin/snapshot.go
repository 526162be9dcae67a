package plugin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
)

const snapshotLong = `Create, list, protect, unprotect, roll back and delete RBD image snapshots, directly in
Ceph.

Name a snapshot the way rbd does, POOL/IMAGE@SNAP (list takes POOL/IMAGE). Or name the
claim instead, with --pvc CLAIM (and -n), and give the bare SNAP: the claim's
PersistentVolume must be a ceph-csi RBD volume, whose pool and imageName attributes name
the image.

`

// cephNote ends the help of each command that talks to Ceph.
const cephNote = `

Unless the --ceph-* flags (or their OTTERSCALE_CEPH_* variables) say where Ceph is, it is
found through the cluster, from Rook's objects and then ceph-csi's, or else in this
machine's /etc/ceph; the group's --help has the details.`

// NewCmdSnapshot returns `kubectl otterscale snapshot`.
func NewCmdSnapshot(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	ceph := NewCephFlags()
	cmd := &cobra.Command{
		Use:     "snapshot",
		Aliases: []string{"snap", "snapshots"},
		Short:   "Create, list, protect, roll back and delete RBD image snapshots in Ceph",
		Long:    snapshotLong + findingCeph,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	// Persistent, so that they can come before or after the verb.
	ceph.AddFlags(cmd.PersistentFlags())
	completeFlag(cmd, "rook-namespace", completeNamespaces(f))
	cmd.AddCommand(
		NewCmdSnapshotCreate(f, ceph, streams),
		NewCmdSnapshotList(f, ceph, streams),
		NewCmdSnapshotDelete(f, ceph, streams),
		NewCmdSnapshotProtect(f, ceph, streams),
		NewCmdSnapshotUnprotect(f, ceph, streams),
		NewCmdSnapshotRollback(f, ceph, streams),
	)
	return cmd
}

// withCephNote ends cmd's help with cephNote.
func withCephNote(cmd *cobra.Command) *cobra.Command {
	if cmd.Long == "" {
		cmd.Long = cmd.Short + "."
	}
	cmd.Long += cephNote
	return cmd
}

// runCeph is runE for commands that talk to Ceph: it starts a Ceph worker
// at once, so that loading Ceph's libraries overlaps with finding the
// cluster, and stops it when the command is done, so that in-process
// callers (tests) leak none.
func runCeph(f *Factory, o options) func(*cobra.Command, []string) error {
	run := runE(o)
	return func(cmd *cobra.Command, args []string) error {
		defer f.Close()
		f.WarmCeph()
		return run(cmd, args)
	}
}

// snapshotTarget is the image, and the snapshot, that a snapshot command
// acts on: given as an rbd spec, or found through --pvc.
type snapshotTarget struct {
	PVC string

	f    *Factory
	ceph *CephFlags
	cmd  *cobra.Command

	pool, image, snap string
}

func (t *snapshotTarget) addFlags(cmd *cobra.Command, withSnap bool) {
	t.cmd = cmd
	usage := "Use the RBD image behind this ceph-csi claim (in the -n namespace); then give no POOL/IMAGE"
	if withSnap {
		usage = "Use the RBD image behind this ceph-csi claim (in the -n namespace); the argument is then the bare SNAP"
	}
	cmd.Flags().StringVar(&t.PVC, "pvc", "", usage)
	completeFlag(cmd, "pvc", completeClaims(t.f))
}

// parse takes the arguments: POOL/IMAGE@SNAP, or SNAP with --pvc; for a
// command on an image (withSnap false), POOL/IMAGE, or none with --pvc.
func (t *snapshotTarget) parse(args []string, withSnap bool) error {
	cmd := t.cmd.CommandPath()
	var err error
	switch {
	case withSnap && len(args) != 1 && t.PVC != "":
		return usageErrorf("%s: expected one SNAP with --pvc, got %d arguments", cmd, len(args))
	case withSnap && len(args) != 1:
		return usageErrorf("%s: expected one %s (or SNAP with --pvc), got %d arguments", cmd, snapshotSpecForm, len(args))
	case withSnap && t.PVC != "":
		t.snap, err = parseSnapshotName(args[0])
	case withSnap:
		t.pool, t.image, t.snap, err = parseSnapshotSpec(args[0])
	case t.PVC != "" && len(args) > 0:
		return usageErrorf("%s: --pvc names the image: give no %s, got %q", cmd, imageSpecForm, args)
	case t.PVC == "" && len(args) != 1:
		return usageErrorf("%s: expected one %s (or --pvc CLAIM), got %d arguments", cmd, imageSpecForm, len(args))
	case t.PVC == "":
		t.pool, t.image, err = parseImageSpec(args[0])
	}
	return err
}

// resolve finds the image behind --pvc: claim, then its PersistentVolume's
// ceph-csi attributes.
func (t *snapshotTarget) resolve(ctx context.Context) error {
	if t.PVC == "" {
		return nil
	}
	ns, err := t.f.Namespace()
	if err != nil {
		return err
	}
	clients, err := t.f.Clusters().Clients(ctx, "")
	if err != nil {
		return err
	}
	t.pool, t.image, err = storage.ResolveClaim(ctx, clients, ns, t.PVC)
	return err
}

func (t *snapshotTarget) service() storagev1connect.StorageServiceHandler {
	return t.f.Storage(t.ceph.Storage())
}

func (t *snapshotTarget) String() string {
	if t.snap == "" {
		return imageSpec(t.pool, t.image)
	}
	return snapshotSpec(t.pool, t.image, t.snap)
}

// SnapshotActionOptions are the options of the snapshot verbs that change
// a snapshot and print one line: delete, protect, unprotect and rollback.
type SnapshotActionOptions struct {
	genericiooptions.IOStreams

	Yes bool

	target snapshotTarget
	// done is the past tense that the printed line ends with.
	done string
	// prompt is the question asked before acting; nil asks none.
	prompt func(pool, image, snap string) string
	call   func(ctx context.Context, svc storagev1connect.StorageServiceHandler, pool, image, snap string) error
}

func newSnapshotAction(f *Factory, ceph *CephFlags, streams genericiooptions.IOStreams, cmd *cobra.Command, o *SnapshotActionOptions) *cobra.Command {
	o.IOStreams = streams
	o.target.f, o.target.ceph = f, ceph
	o.target.addFlags(cmd, true)
	cmd.ValidArgsFunction = o.target.completeSpec(snapshotForm)
	if o.prompt != nil {
		cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "Don't ask for confirmation (it is asked only when stdin and stdout are terminals)")
	}
	cmd.RunE = runCeph(f, o)
	return withCephNote(cmd)
}

// Complete parses the snapshot's name.
func (o *SnapshotActionOptions) Complete(_ context.Context, args []string) error {
	return o.target.parse(args, true)
}

// Validate checks the Ceph flags.
func (o *SnapshotActionOptions) Validate() error { return o.target.ceph.Validate() }

// Run finds the image, asks when it should, and acts.
func (o *SnapshotActionOptions) Run(ctx context.Context) error {
	t := &o.target
	if err := t.resolve(ctx); err != nil {
		return err
	}
	if o.prompt != nil {
		if err := confirm(ctx, o.IOStreams, o.Yes, o.prompt(t.pool, t.image, t.snap)); err != nil {
			return err
		}
	}
	if err := o.call(ctx, t.service(), t.pool, t.image, t.snap); err != nil {
		return err
	}
	_, err := fmt.Fprintf(o.Out, "snapshot %s %s\n", t, o.done)
	return err
}
