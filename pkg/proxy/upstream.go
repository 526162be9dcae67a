package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"
)

// ProxyTokenHeader carries the proxy's own token when the caller's
// Authorization is meant for the upstream OtterScale server.
const ProxyTokenHeader = "X-Otterscale-Proxy-Token"

// parseUpstream checks --upstream: an http(s) URL of a server, optionally
// with a path prefix, and nothing else.
func parseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
		return nil, fmt.Errorf("upstream %q: want http(s)://host[:port][/path] without credentials, query or fragment, e.g. https://otterscale.example.com", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// callerContext holds a forwarded request's own context, under the one
// that shutting down cancels, so that a failure can tell a caller who left
// from a proxy that is stopping.
type callerContext struct{}

// tokenFromAuthorization marks requests whose Authorization held the
// proxy's token: that header is the proxy's, never the upstream's.
type tokenFromAuthorization struct{}

// forwarder sends what the proxy does not serve itself to the upstream
// OtterScale server: any protocol, streams included, headers and trailers
// as they are. It has its own transports: the kubeconfig's credentials are
// never anywhere near it.
type forwarder struct {
	target *url.URL
	// h1 carries HTTP/1.1 callers (Connect and gRPC-Web; HTTPS upstreams
	// may still negotiate HTTP/2), h2 carries HTTP/2 callers, gRPC's
	// always, so that trailers and full-duplex streams survive: cleartext
	// HTTP/2 with prior knowledge for http:// upstreams.
	h1, h2 http.RoundTripper
	rp     *httputil.ReverseProxy
	logger *slog.Logger
	errs   *connect.ErrorWriter
	// streams ends when the proxy shuts down; forwarded streams end with it.
	streams context.Context
}

func newForwarder(target *url.URL, logger *slog.Logger, errs *connect.ErrorWriter, streams context.Context) *forwarder {
	f := &forwarder{target: target, logger: logger, errs: errs, streams: streams}
	h1 := http.DefaultTransport.(*http.Transport).Clone()
	// No proxy from the environment: the user named the server to reach.
	h1.Proxy = nil
	h1.ForceAttemptHTTP2 = target.Scheme == "https"
	h2 := h1.Clone()
	h2.Protocols = new(http.Protocols)
	if target.Scheme == "https" {
		h2.Protocols.SetHTTP2(true)
	} else {
		h2.Protocols.SetUnencryptedHTTP2(true)
	}
	f.h1, f.h2 = h1, h2
	f.rp = &httputil.ReverseProxy{
		Rewrite:        f.rewrite,
		Transport:      roundTripperFunc(f.roundTrip),
		FlushInterval:  -1,
		ModifyResponse: f.modifyResponse,
		ErrorHandler:   f.fail,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return f
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// roundTrip keeps the caller's HTTP version: gRPC and full-duplex streams
// need HTTP/2 on both legs.
func (f *forwarder) roundTrip(r *http.Request) (*http.Response, error) {
	if r.ProtoMajor == 2 || isGRPC(r.Header.Get("Content-Type")) {
		return f.h2.RoundTrip(r)
	}
	return f.h1.RoundTrip(r)
}

// isStream says whether a content type is that of a protocol that streams
// (gRPC, gRPC-Web, Connect's streaming protocol) rather than Connect's
// unary one.
func isStream(contentType string) bool {
	return strings.HasPrefix(contentType, "application/grpc") || strings.HasPrefix(contentType, "application/connect+")
}

func isGRPC(contentType string) bool {
	return strings.HasPrefix(contentType, "application/grpc") && !strings.HasPrefix(contentType, "application/grpc-web")
}

// rewrite addresses the request to the upstream. The browser's CORS
// exchange is the proxy's (it has already decided); the proxy's token, in
// whichever header it came, stays here.
func (f *forwarder) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(f.target)
	pr.Out.Host = ""
	h := pr.Out.Header
	h.Del(ProxyTokenHeader)
	if pr.In.Context().Value(tokenFromAuthorization{}) != nil {
		h.Del("Authorization")
	}
	h.Del("Origin")
	h.Del("Access-Control-Request-Method")
	h.Del("Access-Control-Request-Headers")
	// With Rewrite, ReverseProxy drops the caller's X-Forwarded-* headers
	// and adds none of its own.
}

// duplexContext holds an HTTP/1.1 caller's ResponseController for
// modifyResponse.
type duplexContext struct{}

// modifyResponse readies the upstream's answer to go back to the caller.
//
// The upstream may answer before the caller has sent all of its request:
// HTTP/1.1's server would then drain and close the request body as soon as
// the answer's headers go out, cutting the request the transport is still
// writing upstream, and with it the stream; so once the upstream has
// answered, the proxy reads and writes at once (full duplex). Only then:
// the proxy's own answers (an unreachable upstream) keep net/http's
// default, which reads the caller's request to its end before answering,
// where full duplex would close the connection on an unread request and
// the caller would see it reset instead of the answer.
func (f *forwarder) modifyResponse(res *http.Response) error {
	if rc, ok := res.Request.Context().Value(duplexContext{}).(*http.ResponseController); ok {
		if err := rc.EnableFullDuplex(); err != nil {
			f.logger.Warn("forward: full duplex", "procedure", res.Request.URL.Path, "error", err)
		}
	}
	return dropUpstreamCORS(res)
}

// dropUpstreamCORS removes the upstream's own CORS headers: the proxy
// answers for its origins, and a header twice makes browsers refuse both.
func dropUpstreamCORS(res *http.Response) error {
	for k := range res.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			res.Header.Del(k)
		}
	}
	return nil
}

// fail answers an unreachable upstream as Connect's unavailable, in the
// caller's protocol.
func (f *forwarder) fail(w http.ResponseWriter, r *http.Request, err error) {
	caller, _ := r.Context().Value(callerContext{}).(context.Context)
	if caller == nil {
		caller = r.Context()
	}
	if caller.Err() != nil {
		// The caller left; there is nobody to answer.
		return
	}
	if f.streams.Err() != nil {
		_ = f.errs.Write(w, r, connect.NewError(connect.CodeUnavailable, errors.New("the proxy is shutting down")))
		return
	}
	f.logger.Warn("forward failed", "procedure", r.URL.Path, "upstream", f.target.Redacted(), "error", err)
	_ = f.errs.Write(w, r, connect.NewError(connect.CodeUnavailable,
		fmt.Errorf("upstream %s: %w", f.target.Redacted(), err)))
}

// isProcedure says whether a path names a procedure, /SERVICE/METHOD: the
// only thing the proxy forwards.
func isProcedure(path string) bool {
	svc, method, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return ok && strings.HasPrefix(path, "/") && svc != "" && method != "" && !strings.Contains(method, "/")
}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isProcedure(r.URL.Path) {
		http.NotFound(w, r)
		return
	}
	start := time.Now()
	// Shutting down ends streams at once, as it does the proxy's own;
	// unary calls (Connect's unary protocol) may finish, within the
	// shutdown's timeout. gRPC does not say which its calls are, so they
	// count as streams.
	if isStream(r.Header.Get("Content-Type")) {
		ctx, cancel := context.WithCancel(context.WithValue(r.Context(), callerContext{}, r.Context()))
		defer cancel()
		stop := context.AfterFunc(f.streams, cancel)
		defer stop()
		r = r.WithContext(ctx)
	}
	if r.ProtoMajor == 1 {
		r = r.WithContext(context.WithValue(r.Context(), duplexContext{}, http.NewResponseController(w)))
	}
	sw := &statusWriter{ResponseWriter: w}
	f.rp.ServeHTTP(sw, r)
	attrs := []any{"procedure", r.URL.Path, "upstream", f.target.Host, "status", sw.status(), "duration", time.Since(start).Round(time.Microsecond)}
	// gRPC's outcome is in its trailers (or, for an immediate error, its
	// headers).
	if s := grpcStatus(w.Header()); s != "" {
		attrs = append(attrs, "grpc-status", s)
	}
	f.logger.Info("forward", attrs...)
}

func grpcStatus(h http.Header) string {
	if s := h.Get(http.TrailerPrefix + "Grpc-Status"); s != "" {
		return s
	}
	return h.Get("Grpc-Status")
}

// statusWriter remembers the status for the log line; ReverseProxy finds
// Flush and the rest through Unwrap.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Flush() {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
