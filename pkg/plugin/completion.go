package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
	"github.com/otterscale/kubectl-otterscale/pkg/storage"
	"github.com/otterscale/kubectl-otterscale/pkg/worker"
)

// completionTimeout bounds everything one completion asks of the API server
// and of Ceph: a shell waits for it on every TAB, and completing nothing
// beats hanging.
const completionTimeout = 3 * time.Second

const completionLong = `Print a shell completion script.

kubectl otterscale <TAB> is completed by kubectl itself (1.26 and later): load kubectl's
own completion (see kubectl completion --help) and put the kubectl_complete-otterscale
script on PATH (kubectl_complete-otterscale.cmd on Windows). kubectl runs it to ask the
plugin for commands, flags, namespaces, DataVolumes, pools, images and snapshots.
make install and the release archives ship it; Krew does not put it on PATH yet, so
create it in ~/.krew/bin (or anywhere on PATH), executable, with this content:

    #!/usr/bin/env sh
    exec kubectl-otterscale __complete "$@"

kubectl-otterscale <TAB>, the binary run under its own name, is completed by the
scripts that the commands below print.`

// NewCmdCompletion returns `kubectl otterscale completion`: cobra's scripts,
// with help that explains how a kubectl plugin is completed.
func NewCmdCompletion(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion",
		Short: "Print a shell completion script (and how kubectl completes the plugin)",
		Long:  completionLong,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("completion: unknown shell %q: use bash, zsh, fish or powershell", args[0])
			}
			return nil
		},
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var noDesc bool
	cmd.PersistentFlags().BoolVar(&noDesc, "no-descriptions", false, "Leave out the descriptions of the choices")
	shell := func(name, load string, gen func(root *cobra.Command, w io.Writer, desc bool) error) *cobra.Command {
		return &cobra.Command{
			Use:   name,
			Short: "Print the completion script for " + name,
			Long: fmt.Sprintf(`Print the completion script for %s. It completes kubectl-otterscale run under its
own name; for "kubectl otterscale <TAB>" see "kubectl otterscale completion --help".

To load it in the current shell:

    %s`, name, load),
			Args:              noArgs,
			ValidArgsFunction: cobra.NoFileCompletions,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return gen(cmd.Root(), streams.Out, !noDesc)
			},
		}
	}
	cmd.AddCommand(
		shell("bash", "source <(kubectl-otterscale completion bash)   # needs the bash-completion package",
			func(root *cobra.Command, w io.Writer, desc bool) error { return root.GenBashCompletionV2(w, desc) }),
		shell("zsh", "source <(kubectl-otterscale completion zsh)   # after compinit",
			func(root *cobra.Command, w io.Writer, desc bool) error {
				if desc {
					return root.GenZshCompletion(w)
				}
				return root.GenZshCompletionNoDesc(w)
			}),
		shell("fish", "kubectl-otterscale completion fish | source",
			func(root *cobra.Command, w io.Writer, desc bool) error { return root.GenFishCompletion(w, desc) }),
		shell("powershell", "kubectl-otterscale completion powershell | Out-String | Invoke-Expression",
			func(root *cobra.Command, w io.Writer, desc bool) error {
				if desc {
					return root.GenPowerShellCompletionWithDesc(w)
				}
				return root.GenPowerShellCompletion(w)
			}),
	)
	return cmd
}

// completeFlag registers a flag's completion. The flag is the caller's own,
// so an error is a programming mistake.
func completeFlag(cmd *cobra.Command, name string, fn cobra.CompletionFunc) {
	if err := cmd.RegisterFlagCompletionFunc(name, fn); err != nil {
		panic(err)
	}
}

// noFileArgs makes every command of the tree that completes no arguments of
// its own say so, rather than let the shell offer file names.
func noFileArgs(cmd *cobra.Command) {
	if cmd.ValidArgsFunction == nil && len(cmd.ValidArgs) == 0 {
		cmd.ValidArgsFunction = cobra.NoFileCompletions
	}
	for _, c := range cmd.Commands() {
		noFileArgs(c)
	}
}

// fixed completes one of choices.
func fixed(choices ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, c := range choices {
			if strings.HasPrefix(c, toComplete) {
				out = append(out, c)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// lister answers the choices for toComplete; it may use the network.
type lister func(ctx context.Context, cmd *cobra.Command, args []string, toComplete string) ([]string, error)

// dynamic turns a lister into a completion function that behaves inside a
// shell: bounded by completionTimeout, never prompting or reading stdin
// (exec credential plugins run non-interactively), with client-go's logs and
// warnings silenced, and on any failure completing nothing (the reason goes
// to cobra's debug log, $BASH_COMP_DEBUG_FILE, only). Choices that end in
// "/" or "@" are partial words: the shell then adds no space.
func dynamic(f *Factory, list lister) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		restore := silenceLogs()
		defer restore()
		nonInteractive(f)
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		choices, err := list(ctx, cmd, args, toComplete)
		if err != nil {
			cobra.CompDebugln("kubectl-otterscale completion: "+err.Error(), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		out := make([]cobra.Completion, 0, len(choices))
		directive := cobra.ShellCompDirectiveNoFileComp
		for _, c := range choices {
			if !strings.HasPrefix(c, toComplete) {
				continue
			}
			if strings.HasSuffix(c, "/") || strings.HasSuffix(c, "@") {
				directive |= cobra.ShellCompDirectiveNoSpace
			}
			out = append(out, c)
		}
		return out, directive
	}
}

// nonInteractive makes the clients the Factory builds from now on unable to
// prompt: exec credential plugins get no stdin, and requests time out with
// the completion.
func nonInteractive(f *Factory) {
	wrap := f.ConfigFlags.WrapConfigFn
	f.ConfigFlags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		if wrap != nil {
			c = wrap(c)
		}
		if c.ExecProvider != nil {
			c.ExecProvider.InteractiveMode = clientcmdapi.NeverExecInteractiveMode
		}
		if c.Timeout == 0 || c.Timeout > completionTimeout {
			c.Timeout = completionTimeout
		}
		return c
	}
}

// clients are the clients of the context on the line being completed.
func clients(ctx context.Context, f *Factory) (*cluster.Clients, error) {
	return f.Clusters().Clients(ctx, "")
}

// completeNamespaces completes namespace names.
func completeNamespaces(f *Factory) cobra.CompletionFunc {
	return dynamic(f, func(ctx context.Context, _ *cobra.Command, _ []string, _ string) ([]string, error) {
		return namespaces(ctx, f)
	})
}

func namespaces(ctx context.Context, f *Factory) ([]string, error) {
	c, err := clients(ctx, f)
	if err != nil {
		return nil, err
	}
	list, err := c.Core.Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	names := make([]string, len(list.Items))
	for i, ns := range list.Items {
		names[i] = ns.Name
	}
	return names, nil
}

// kubeconfigNames completes the names the kubeconfig gives contexts,
// clusters or users (which picks one map of the raw config).
func kubeconfigNames[T any](f *Factory, which func(*clientcmdapi.Config) map[string]T) cobra.CompletionFunc {
	return dynamic(f, func(context.Context, *cobra.Command, []string, string) ([]string, error) {
		raw, err := f.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, err
		}
		names := make([]string, 0)
		for name := range which(&raw) {
			names = append(names, name)
		}
		slices.Sort(names)
		return names, nil
	})
}

// registerConfigCompletions completes kubectl's flags on the root command.
func registerConfigCompletions(root *cobra.Command, f *Factory) {
	completeFlag(root, "namespace", completeNamespaces(f))
	completeFlag(root, "context", kubeconfigNames(f, func(c *clientcmdapi.Config) map[string]*clientcmdapi.Context { return c.Contexts }))
	completeFlag(root, "cluster", kubeconfigNames(f, func(c *clientcmdapi.Config) map[string]*clientcmdapi.Cluster { return c.Clusters }))
	completeFlag(root, "user", kubeconfigNames(f, func(c *clientcmdapi.Config) map[string]*clientcmdapi.AuthInfo { return c.AuthInfos }))
}

// completeDataVolumes completes DataVolume names in the -n namespace (or
// the context's), leaving out those already named. One is how many NAMEs
// the command takes: true for one, false for any number.
func completeDataVolumes(f *Factory, one bool) cobra.CompletionFunc {
	return dynamic(f, func(ctx context.Context, cmd *cobra.Command, args []string, _ string) ([]string, error) {
		if one && len(args) > 0 {
			return nil, nil
		}
		if all, err := cmd.Flags().GetBool("all-namespaces"); err == nil && all {
			return nil, nil // -A takes no names
		}
		ns, err := f.Namespace()
		if err != nil {
			return nil, err
		}
		resp, err := f.Instance().ListDataVolumes(ctx, connect.NewRequest(&instancev1.ListDataVolumesRequest{Namespace: ns}))
		if err != nil {
			return nil, err
		}
		var names []string
		for _, dv := range resp.Msg.GetDataVolumes() {
			if !slices.Contains(args, dv.GetName()) {
				names = append(names, dv.GetName())
			}
		}
		return names, nil
	})
}

// claims lists the claims of namespace ns, each as prefix+name.
func claims(ctx context.Context, f *Factory, ns, prefix string) ([]string, error) {
	c, err := clients(ctx, f)
	if err != nil {
		return nil, err
	}
	list, err := c.Core.PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	names := make([]string, len(list.Items))
	for i, pvc := range list.Items {
		names[i] = prefix + pvc.Name
	}
	return names, nil
}

// completeClaims completes claim names in the -n namespace (--pvc).
func completeClaims(f *Factory) cobra.CompletionFunc {
	return dynamic(f, func(ctx context.Context, _ *cobra.Command, _ []string, _ string) ([]string, error) {
		ns, err := f.Namespace()
		if err != nil {
			return nil, err
		}
		return claims(ctx, f, ns, "")
	})
}

// completeCloneSource completes --clone's [NAMESPACE/]CLAIM: the claims of
// the -n namespace and the other namespaces as NAMESPACE/, then, once a
// namespace is typed, its claims.
func completeCloneSource(f *Factory) cobra.CompletionFunc {
	return dynamic(f, func(ctx context.Context, _ *cobra.Command, _ []string, toComplete string) ([]string, error) {
		if ns, _, ok := strings.Cut(toComplete, "/"); ok {
			return claims(ctx, f, ns, ns+"/")
		}
		current, err := f.Namespace()
		if err != nil {
			return nil, err
		}
		choices, err := claims(ctx, f, current, "")
		if err != nil {
			return nil, err
		}
		// Users who may not list namespaces still get their own claims.
		others, _ := namespaces(ctx, f)
		for _, ns := range others {
			if ns != current {
				choices = append(choices, ns+"/")
			}
		}
		return choices, nil
	})
}

// completeStorageClasses completes StorageClass names.
func completeStorageClasses(f *Factory) cobra.CompletionFunc {
	return dynamic(f, func(ctx context.Context, _ *cobra.Command, _ []string, _ string) ([]string, error) {
		c, err := clients(ctx, f)
		if err != nil {
			return nil, err
		}
		list, err := c.Storage.StorageClasses().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		names := make([]string, len(list.Items))
		for i, sc := range list.Items {
			names[i] = sc.Name
		}
		return names, nil
	})
}

// cephNames runs fn against Ceph, found as the RBD commands find it with
// the --ceph-* flags on the line, and stops the Ceph worker after. Without
// a worker it answers nothing.
func cephNames(ctx context.Context, f *Factory, ceph *CephFlags, fn func(*storage.Service) ([]string, error)) ([]string, error) {
	if worker.Find().Path == "" {
		return nil, nil
	}
	flags := ceph.Storage()
	if flags.Timeout <= 0 || flags.Timeout > completionTimeout {
		flags.Timeout = completionTimeout
	}
	defer f.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return fn(f.Storage(flags))
}

func withPrefix(prefix string, names []string, suffix string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n + suffix
	}
	return out
}

// completePools completes `image list [POOL]`.
func completePools(f *Factory, ceph *CephFlags) cobra.CompletionFunc {
	return dynamic(f, func(ctx context.Context, _ *cobra.Command, args []string, _ string) ([]string, error) {
		if len(args) > 0 {
			return nil, nil
		}
		return cephNames(ctx, f, ceph, func(s *storage.Service) ([]string, error) { return s.PoolNames(ctx, "") })
	})
}

// completeImageSpecs completes POOL/IMAGE arguments: POOL/, then the
// pool's images; for an image that does not exist yet (newImage), only
// POOL/. Every argument completes, for commands that take several.
func completeImageSpecs(f *Factory, ceph *CephFlags, newImage bool) cobra.CompletionFunc {
	return dynamic(f, func(ctx context.Context, _ *cobra.Command, args []string, toComplete string) ([]string, error) {
		if newImage && len(args) > 0 {
			return nil, nil
		}
		pool, _, poolTyped := strings.Cut(toComplete, "/")
		return cephNames(ctx, f, ceph, func(s *storage.Service) ([]string, error) {
			if !poolTyped {
				names, err := s.PoolNames(ctx, "")
				return withPrefix("", names, "/"), err
			}
			if newImage {
				return nil, nil
			}
			names, err := s.ImageNames(ctx, "", pool)
			return withPrefix(pool+"/", names, ""), err
		})
	})
}

// specForm is what a snapshot command's argument names.
type specForm int

const (
	// imageForm is POOL/IMAGE (snapshot list).
	imageForm specForm = iota
	// newSnapshotForm is POOL/IMAGE@SNAP for a snapshot that does not exist
	// yet (create): completion stops at POOL/IMAGE@.
	newSnapshotForm
	// snapshotForm is POOL/IMAGE@SNAP of an existing snapshot.
	snapshotForm
)

// completeSpec completes rbd's spec one part at a time: POOL/, then
// POOL/IMAGE (or POOL/IMAGE@), then POOL/IMAGE@SNAP. With --pvc the
// argument is the bare SNAP: the snapshots of the claim's image.
func (t *snapshotTarget) completeSpec(form specForm) cobra.CompletionFunc {
	return dynamic(t.f, func(ctx context.Context, _ *cobra.Command, args []string, toComplete string) ([]string, error) {
		if len(args) > 0 || (t.PVC != "" && form != snapshotForm) {
			return nil, nil
		}
		if t.PVC != "" {
			if err := t.resolve(ctx); err != nil {
				return nil, err
			}
			return cephNames(ctx, t.f, t.ceph, func(s *storage.Service) ([]string, error) {
				return s.SnapshotNames(ctx, "", t.pool, t.image)
			})
		}
		head, _, snapTyped := strings.Cut(toComplete, "@")
		pool, _, poolTyped := strings.Cut(head, "/")
		return cephNames(ctx, t.f, t.ceph, func(s *storage.Service) ([]string, error) {
			switch {
			case !poolTyped:
				names, err := s.PoolNames(ctx, "")
				return withPrefix("", names, "/"), err
			case !snapTyped:
				names, err := s.ImageNames(ctx, "", pool)
				if form == imageForm {
					return withPrefix(pool+"/", names, ""), err
				}
				return withPrefix(pool+"/", names, "@"), err
			case form == snapshotForm:
				_, image, _ := strings.Cut(head, "/")
				names, err := s.SnapshotNames(ctx, "", pool, image)
				return withPrefix(head+"@", names, ""), err
			}
			return nil, nil
		})
	})
}
