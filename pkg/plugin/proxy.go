package plugin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	"github.com/otterscale/kubectl-otterscale/pkg/proxy"
)

var proxyExample = examples(`
	# Serve the OtterScale API on http://127.0.0.1:8299 for the web UI's dev server
	kubectl otterscale proxy

	# A free port, another dev-server origin, and a token every caller must send
	kubectl otterscale proxy --port 0 --allow-origin http://localhost:8080 --require-token

	# The whole web UI through one address: what the proxy does not serve
	# goes to the OtterScale server
	kubectl otterscale proxy --upstream https://otterscale.example.com

	# Call it like the OtterScale API server (the schema comes from reflection,
	# which needs HTTP/2)
	buf curl --http2-prior-knowledge --protocol connect -d '{"namespace":"default"}' \
	  http://127.0.0.1:8299/otterscale.instance.v1.InstanceService/ListDataVolumes`)

// ProxyOptions are the options of `proxy`.
type ProxyOptions struct {
	genericiooptions.IOStreams

	Address      string
	Port         int
	AcceptHosts  []string
	AllowOrigins []string
	Token        string
	RequireToken bool
	Upstream     string

	f    *Factory
	ceph *CephFlags
	// generated says the token was made here and must be shown once.
	generated bool
}

// NewCmdProxy returns `kubectl otterscale proxy`.
func NewCmdProxy(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ProxyOptions{IOStreams: streams, f: f, ceph: NewCephFlags(), Address: proxy.DefaultAddress, Port: proxy.DefaultPort}
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Serve the OtterScale API for the web UI and Connect or gRPC clients on localhost",
		Long: `Serve the OtterScale API, wire-compatible with the OtterScale API server: the
current web UI's ResourceService (any Kubernetes object) and LinkService's ListLinks (your
kubeconfig's contexts as clusters), and the earlier UI's InstanceService and StorageService.
One local port: Connect (JSON and binary), gRPC and gRPC-Web, over HTTP/1.1 and
cleartext HTTP/2, with gRPC health and reflection. Calls run with your kubeconfig; a
request's "scope" or "cluster" picks the kubeconfig context (empty: the current one). Your
credentials never leave this process.

Like kubectl proxy it listens on 127.0.0.1 and serves only requests whose Host is
localhost, 127.0.0.1 or [::1] (a defence against DNS rebinding; add names with
--accept-hosts). Browsers get CORS headers for the --allow-origin origins only. With
--proxy-token or --require-token every call must send "Authorization: Bearer TOKEN"
(or "X-Otterscale-Proxy-Token: TOKEN" when its Authorization is for the upstream).

With --upstream, every procedure the proxy does not serve itself is forwarded to that
OtterScale server in the caller's protocol, streams, headers and trailers intact. The
caller's Authorization goes there; your kubeconfig's credentials and the proxy's token
never do. Without it, those procedures answer unimplemented. LinkService's agent-tunnel
methods (Register, GetAgentManifest, ListRancherProjects) are such procedures; ListLinks and
ResourceService stay local, since the clusters they name are your kubeconfig's.
Ctrl-C stops it gracefully: calls in flight finish, watch streams end.

` + findingCeph,
		Example: proxyExample,
		Args:    noArgs,
		RunE:    runE(o),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Address, "address", o.Address, "The IP address to listen on; anything but loopback exposes your cluster access to the network")
	fs.IntVarP(&o.Port, "port", "p", o.Port, "The port to listen on; 0 picks a free one")
	fs.StringSliceVar(&o.AcceptHosts, "accept-hosts", nil, "Host names (without port) requests may be addressed to, repeatable or comma-separated (default localhost,127.0.0.1,[::1])")
	fs.StringSliceVar(&o.AllowOrigins, "allow-origin", nil, "Browser origins that get CORS headers, repeatable or comma-separated (default "+strings.Join(proxy.DefaultAllowOrigins, ",")+")")
	// Not --token: kubectl's global --token is the API server's, and stays
	// so here.
	fs.StringVar(&o.Token, "proxy-token", "", "Bearer token every call must send in Authorization")
	fs.BoolVar(&o.RequireToken, "require-token", false, "Require a bearer token; without --proxy-token, generate one and print it once")
	fs.StringVar(&o.Upstream, "upstream", "", "OtterScale server URL to forward the procedures this proxy does not serve to, e.g. https://otterscale.example.com")
	o.ceph.AddFlags(fs)
	return cmd
}

// Complete generates the token --require-token asks for.
func (o *ProxyOptions) Complete(_ context.Context, _ []string) error {
	if o.RequireToken && o.Token == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generate a token: %w", err)
		}
		o.Token = base64.RawURLEncoding.EncodeToString(b)
		o.generated = true
	}
	return nil
}

// Validate checks the flags' own values.
func (o *ProxyOptions) Validate() error {
	if o.Port < 0 || o.Port > 65535 {
		return usageErrorf("--port: must be between 0 and 65535, got %d", o.Port)
	}
	if net.ParseIP(o.Address) == nil && o.Address != "localhost" {
		return usageErrorf("--address: want an IP address such as 127.0.0.1, got %q", o.Address)
	}
	if err := o.serverOptions().Validate(); err != nil {
		return usageError{err}
	}
	return o.ceph.Validate()
}

func (o *ProxyOptions) serverOptions() proxy.Options {
	return proxy.Options{
		Address:      o.Address,
		Port:         o.Port,
		AcceptHosts:  o.AcceptHosts,
		AllowOrigins: o.AllowOrigins,
		Token:        o.Token,
		Upstream:     o.Upstream,
		Logger:       slog.New(slog.NewTextHandler(o.ErrOut, nil)),
	}
}

// Run serves until ctx ends (Ctrl-C).
func (o *ProxyOptions) Run(ctx context.Context) error {
	defer o.f.Close()
	o.f.Unthrottle()
	opts := o.serverOptions()
	// client-go's own messages (klog) join the proxy's log, in its format.
	klog.SetSlogLogger(opts.Logger)
	defer klog.ClearLogger()
	o.f.LogCeph(opts.Logger)
	srv, err := proxy.NewServer(proxy.Services{
		Instance: o.f.Instance(),
		Storage:  o.f.Storage(o.ceph.Storage()),
		Resource: o.f.Resource(),
		Link:     o.f.Link(),
	}, opts)
	if err != nil {
		return err
	}
	addr, err := srv.Listen()
	if err != nil {
		return fmt.Errorf("%w (is another proxy running there? --port 0 picks a free port)", err)
	}
	o.banner(addr)
	return srv.Serve(ctx)
}

// banner says where the proxy listens and how to call it.
func (o *ProxyOptions) banner(addr net.Addr) {
	// The address as the user gave it: a listener on 0.0.0.0 reports
	// itself as [::].
	_, port, _ := net.SplitHostPort(addr.String())
	ip := net.ParseIP(o.Address)
	urlHost := o.Address
	if ip != nil && ip.IsUnspecified() {
		urlHost = "127.0.0.1"
	}
	base := (&url.URL{Scheme: "http", Host: net.JoinHostPort(urlHost, port)}).String()
	if o.Address != "localhost" && !ip.IsLoopback() {
		fmt.Fprintf(o.ErrOut, "WARNING: listening on %s, which is not loopback: anyone who can reach this address\n"+
			"WARNING: acts on your clusters with your kubeconfig credentials", net.JoinHostPort(o.Address, port))
		if o.Token == "" {
			fmt.Fprint(o.ErrOut, ", without a token (--require-token)")
		}
		fmt.Fprintln(o.ErrOut, ".")
	}
	fmt.Fprintf(o.Out, "Serving the OtterScale API on %s (Connect, gRPC, gRPC-Web; Ctrl-C stops)\n", base)
	fmt.Fprintln(o.Out, "Services: ResourceService and LinkService/ListLinks (the current web UI), InstanceService and StorageService (the earlier one)")
	if o.Upstream != "" {
		fmt.Fprintf(o.Out, "Forwarding the procedures it does not serve to %s\n", o.Upstream)
	}
	auth := ""
	if o.Token != "" {
		// A token the user chose is theirs to paste; only a generated
		// one is shown, once.
		token := "$TOKEN"
		if o.generated {
			token = o.Token
			fmt.Fprintf(o.Out, "Token (shown once): %s\n", o.Token)
		}
		// buf curl sends -H to reflection only when told to.
		auth = " -H 'Authorization: Bearer " + token + "' --reflect-header '*'"
	}
	// Reflection, where buf curl gets the schema, needs HTTP/2.
	fmt.Fprintf(o.Out, "Try:\n  buf curl --http2-prior-knowledge --protocol connect%s -d '{\"namespace\":\"default\"}' \\\n    %s%s\n",
		auth, base, instancev1connect.InstanceServiceListDataVolumesProcedure)
}
