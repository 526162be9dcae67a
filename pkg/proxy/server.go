package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
)

// Defaults, following `kubectl proxy` where it has an equivalent.
const (
	DefaultAddress = "127.0.0.1"
	// DefaultPort is upstream OtterScale's.
	DefaultPort = 8299
	// DefaultMaxRequestBytes is far more than any request of the API needs
	// (the largest are a few hundred bytes) and small enough that a client
	// cannot make the proxy buffer much.
	DefaultMaxRequestBytes = 4 << 20
	// DefaultBodyTimeout bounds reading a request body: the API's bodies
	// are small, so only a stalled or hostile client needs more.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultShutdownTimeout bounds how long Serve waits for unary calls in
	// flight once its context ends.
	DefaultShutdownTimeout = 10 * time.Second
)

// compressMinBytes is the smallest answer the proxy compresses, when the
// caller accepts it.
const compressMinBytes = 8 << 10

// DefaultAcceptHosts are the Host header values served, as `kubectl proxy`
// accepts: loopback names only, so that a web page on some other site whose
// name an attacker points at 127.0.0.1 (DNS rebinding) is refused.
var DefaultAcceptHosts = []string{"localhost", "127.0.0.1", "[::1]"}

// DefaultAllowOrigins are the origins of the dev servers a frontend
// developer runs the OtterScale web UI with: Vite's dev server (5173, as
// SvelteKit and most Vite templates use) under both loopback names, the
// port of create-react-app, Next.js and many others (3000), and Vite's
// preview server (4173). Any other origin must be named with
// --allow-origin.
var DefaultAllowOrigins = []string{
	"http://localhost:5173",
	"http://127.0.0.1:5173",
	"http://localhost:3000",
	"http://localhost:4173",
}

// Options configure a Server. The zero value of each field means its
// default.
type Options struct {
	// Address to listen on; DefaultAddress when empty.
	Address string
	// Port to listen on; 0 picks a free one.
	Port int
	// AcceptHosts are the hosts (without port) a request's Host header may
	// name; DefaultAcceptHosts when empty.
	AcceptHosts []string
	// AllowOrigins get CORS headers; DefaultAllowOrigins when empty.
	AllowOrigins []string
	// Token, when not empty, must come as "Authorization: Bearer TOKEN".
	Token string
	// MaxRequestBytes bounds a request body; DefaultMaxRequestBytes when 0.
	MaxRequestBytes int64
	// BodyTimeout bounds reading a request's body; DefaultBodyTimeout
	// when 0. Streams are not bound by it once their request is read.
	BodyTimeout time.Duration
	// ShutdownTimeout bounds Serve's graceful shutdown;
	// DefaultShutdownTimeout when 0.
	ShutdownTimeout time.Duration
	// Logger gets one line per call; nothing is logged when nil.
	Logger *slog.Logger
	// Upstream, when not empty, is the OtterScale server that procedures
	// the proxy does not serve itself are forwarded to; without it they
	// answer unimplemented.
	Upstream string
}

func (o Options) withDefaults() Options {
	if o.Address == "" {
		o.Address = DefaultAddress
	}
	if len(o.AcceptHosts) == 0 {
		o.AcceptHosts = DefaultAcceptHosts
	}
	if len(o.AllowOrigins) == 0 {
		o.AllowOrigins = DefaultAllowOrigins
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.BodyTimeout == 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Server is the proxy: the services behind the security middleware, on one
// port for HTTP/1.1 and cleartext HTTP/2.
type Server struct {
	opts    Options
	handler http.Handler
	srv     *http.Server

	// streams is the parent of every streaming call's context: Shutdown
	// cancels it so that watches end cleanly instead of holding the
	// shutdown until its timeout.
	streams     context.Context
	stopStreams context.CancelFunc

	mu       sync.Mutex
	listener net.Listener
}

// Validate checks the options' own values, as NewServer does.
func (o Options) Validate() error {
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("port %d: must be between 0 and 65535", o.Port)
	}
	if o.MaxRequestBytes < 0 {
		return fmt.Errorf("max request bytes %d: must not be negative", o.MaxRequestBytes)
	}
	if o.Upstream != "" {
		if _, err := parseUpstream(o.Upstream); err != nil {
			return err
		}
	}
	o = o.withDefaults()
	if _, err := newHostSet(o.AcceptHosts); err != nil {
		return err
	}
	_, err := newOriginSet(o.AllowOrigins)
	return err
}

// NewServer checks opts and builds the server; it does not listen yet.
func NewServer(services Services, opts Options) (*Server, error) {
	if services.Instance == nil {
		return nil, errors.New("proxy: no InstanceService implementation")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	hosts, err := newHostSet(opts.AcceptHosts)
	if err != nil {
		return nil, err
	}
	origins, err := newOriginSet(opts.AllowOrigins)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts}
	s.streams, s.stopStreams = context.WithCancel(context.Background())

	handlerOpts := []connect.HandlerOption{
		connect.WithInterceptors(&interceptor{logger: opts.Logger, streams: s.streams}),
		connect.WithReadMaxBytes(int(opts.MaxRequestBytes)),
		// Compressing the API's small answers costs more than it saves
		// on a loopback or LAN hop (gzip was a sixth of the proxy's CPU
		// in a profile); larger ones, such as long lists, still are.
		connect.WithCompressMinBytes(compressMinBytes),
	}
	mux := NewMux(services, handlerOpts...)
	if opts.Upstream == "" {
		mountLinkAgent(mux, services, handlerOpts...)
	}
	names := services.names()
	// The services are served for as long as the proxy runs; whether a
	// cluster behind a scope answers is each call's to say.
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(names...), handlerOpts...))
	// Health is listed too, as grpc-go servers do, so that grpcurl and
	// buf curl can describe it.
	reflector := grpcreflect.NewStaticReflector(append(names, grpchealth.HealthV1ServiceName)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, handlerOpts...))
	// grpcurl and many other tools still ask v1alpha.
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, handlerOpts...))

	errs := connect.NewErrorWriter()
	// What the proxy serves is bounded by limitBody. Forwarded streams are
	// not: they last as long as the caller and the upstream want, and the
	// upstream bounds its own messages.
	served := limitBody(mux, opts.MaxRequestBytes, opts.BodyTimeout, errs, opts.Logger)
	rest := unimplemented(errs, opts.Logger)
	if opts.Upstream != "" {
		target, _ := parseUpstream(opts.Upstream) // checked by Validate
		fwd := newForwarder(target, opts.Logger, errs, s.streams)
		rest = limitUnaryBody(fwd, limitBody(fwd, opts.MaxRequestBytes, opts.BodyTimeout, errs, opts.Logger))
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			served.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
	h = requireToken(h, opts.Token, errs, opts.Logger)
	// CORS comes before the token: a browser's preflight never carries
	// credentials, and must be answered for the real request to follow.
	h = allowOrigins(h, origins)
	h = checkHost(h, hosts, opts.Logger)
	s.handler = h

	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.srv = &http.Server{
		Handler:   h,
		Protocols: protocols,
		// No WriteTimeout: it would cut watch streams, which last as long
		// as the client wants them. No ReadTimeout either: it bounds the
		// reading of a whole request, which for a stream is its whole
		// life; limitBody bounds reading the body alone (BodyTimeout).
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler is the whole proxy as an http.Handler, middleware included.
func (s *Server) Handler() http.Handler { return s.handler }

// Listen binds the address and port; Serve calls it when it was not called
// before. With port 0 the address tells which port was picked.
func (s *Server) Listen() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener != nil {
		return s.listener.Addr(), nil
	}
	addr := net.JoinHostPort(s.opts.Address, strconv.Itoa(s.opts.Port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.listener = l
	return l.Addr(), nil
}

// Serve serves until ctx ends, then shuts down gracefully within
// Options.ShutdownTimeout. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	if _, err := s.Listen(); err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.listener) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	err := s.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve: %w", serr))
	}
	return err
}

// Shutdown stops accepting connections, ends streaming calls (watches end
// with OK, as when the client leaves), waits for unary calls in flight, and
// closes what is left when ctx ends first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopStreams()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
		return fmt.Errorf("shut down the proxy: %w", err)
	}
	return nil
}
