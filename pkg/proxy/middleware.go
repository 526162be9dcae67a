package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
)

// hostSet holds accepted hosts, lower case, IPv6 without brackets.
type hostSet map[string]struct{}

func newHostSet(hosts []string) (hostSet, error) {
	set := hostSet{}
	for _, h := range hosts {
		name := strings.ToLower(strings.TrimSpace(h))
		name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
		if name == "" || strings.ContainsAny(name, "/ ") || (strings.Contains(name, ":") && net.ParseIP(name) == nil) {
			return nil, fmt.Errorf("accept host %q: want a host name or IP address without port, e.g. localhost or [::1]", h)
		}
		set[name] = struct{}{}
	}
	return set, nil
}

// accepts says whether a Host header, with or without port, names an
// accepted host.
func (s hostSet) accepts(hostHeader string) bool {
	host := strings.ToLower(hostHeader)
	if h, port, err := net.SplitHostPort(host); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return false
		}
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	_, ok := s[host]
	return host != "" && ok
}

// checkHost refuses requests whose Host is not accepted: a page on a site
// whose name was rebound to 127.0.0.1 reaches the proxy with its own name
// in Host, so only the names the proxy knows itself by are served.
func checkHost(next http.Handler, hosts hostSet, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts.accepts(r.Host) {
			logger.Warn("refused", "procedure", r.URL.Path, "status", http.StatusForbidden, "reason", "host not accepted", "host", r.Host)
			http.Error(w, fmt.Sprintf("host %q is not accepted by this proxy; add it with --accept-hosts", r.Host), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originSet holds allowed origins, as browsers send them.
type originSet map[string]struct{}

func newOriginSet(origins []string) (originSet, error) {
	set := originSet{}
	for _, o := range origins {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("allowed origin %q: want scheme://host[:port], e.g. http://localhost:5173", o)
		}
		set[strings.ToLower(o)] = struct{}{}
	}
	return set, nil
}

func (s originSet) allows(origin string) bool {
	_, ok := s[strings.ToLower(origin)]
	return origin != "" && ok
}

// The headers browsers may send and read: Connect's, gRPC-Web's, and
// Authorization and ProxyTokenHeader for the token.
var (
	corsAllowMethods  = strings.Join(connectcors.AllowedMethods(), ", ")
	corsAllowHeaders  = strings.Join(append(connectcors.AllowedHeaders(), "Authorization", ProxyTokenHeader, "Connect-Accept-Encoding", "Connect-Content-Encoding"), ", ")
	corsExposeHeaders = strings.Join(connectcors.ExposedHeaders(), ", ")
)

// corsMaxAge lets browsers cache a preflight for two hours, the most
// Chromium honours.
const corsMaxAge = "7200"

// allowOrigins adds CORS headers for the allowed origins only and answers
// their preflights. Other origins get no CORS headers, so browsers keep
// their pages from calling the proxy.
func allowOrigins(next http.Handler, origins originSet) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origins.allows(origin)
		h := w.Header()
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Origin")
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if allowed && slices.Contains(connectcors.AllowedMethods(), r.Header.Get("Access-Control-Request-Method")) {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if origin != "" {
			h.Add("Vary", "Origin")
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}

// errWrongToken is all a caller without the right token learns.
var errWrongToken = errors.New("missing or wrong bearer token: send Authorization: Bearer <the token the proxy printed> (or " + ProxyTokenHeader + ": <token> when Authorization is for the upstream)")

// requireToken refuses, as Connect's unauthenticated in the caller's
// protocol, requests without the token: "Authorization: Bearer TOKEN", or
// ProxyTokenHeader when the caller's Authorization is meant for the
// upstream. The token is never logged, and never forwarded.
func requireToken(next http.Handler, token string, errs *connect.ErrorWriter, logger *slog.Logger) http.Handler {
	if token == "" {
		return next
	}
	// Comparing digests keeps the comparison constant in time whatever
	// the length of what was sent.
	want := sha256.Sum256([]byte(token))
	matches := func(got string) bool {
		sum := sha256.Sum256([]byte(got))
		return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if values := r.Header.Values(ProxyTokenHeader); len(values) > 0 {
			if len(values) == 1 && matches(strings.TrimSpace(values[0])) {
				next.ServeHTTP(w, r)
				return
			}
		} else {
			// The scheme is case-insensitive (RFC 9110).
			auth := r.Header.Get("Authorization")
			ok := len(auth) > len("Bearer ") && strings.EqualFold(auth[:len("Bearer ")], "Bearer ")
			if matches(strings.TrimSpace(auth[min(len(auth), len("Bearer ")):])) && ok {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenFromAuthorization{}, true)))
				return
			}
		}
		logger.Warn("refused", "procedure", r.URL.Path, "code", connect.CodeUnauthenticated.String(), "reason", "missing or wrong token")
		w.Header().Set("WWW-Authenticate", "Bearer")
		_ = errs.Write(w, r, connect.NewError(connect.CodeUnauthenticated, errWrongToken))
	})
}

// limitUnaryBody sends unary calls (Connect's unary protocol: JSON or
// binary POSTs and GETs) through limited, and streams, whose request
// bodies are the caller's to keep open, through next.
func limitUnaryBody(next, limited http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isStream(r.Header.Get("Content-Type")) {
			next.ServeHTTP(w, r)
			return
		}
		limited.ServeHTTP(w, r)
	})
}

// limitBody refuses bodies that say they are larger than limit and cuts off
// those that turn out to be; connect-go reports the cut as
// resource_exhausted. Reading the body must end within timeout (a stalled
// body gets deadline_exceeded); the deadline is lifted at the body's end,
// so that it never reaches into a stream's life.
func limitBody(next http.Handler, limit int64, timeout time.Duration, errs *connect.ErrorWriter, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			logger.Warn("refused", "procedure", r.URL.Path, "code", connect.CodeResourceExhausted.String(), "reason", "request body too large", "bytes", r.ContentLength, "limit", limit)
			_ = errs.Write(w, r, connect.NewError(connect.CodeResourceExhausted,
				fmt.Errorf("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)))
			return
		}
		rc := http.NewResponseController(w)
		body := &deadlineBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), rc: rc}
		if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
			body.set = true
		}
		r.Body = body
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the body has been read to its
// end, and only then: after a timeout net/http still drains the body, and
// must give up on that too.
type deadlineBody struct {
	io.ReadCloser
	rc  *http.ResponseController
	set bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && b.set {
		b.set = false
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// unimplemented answers procedures the proxy does not serve the way a
// Connect server does, in the caller's protocol; anything else gets 404.
func unimplemented(errs *connect.ErrorWriter, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A GET is a Connect call only with its message in the query.
		if !errs.IsSupported(r) || (r.Method != http.MethodPost && !r.URL.Query().Has("message")) {
			http.NotFound(w, r)
			return
		}
		logger.Info("call", "procedure", r.URL.Path, "code", connect.CodeUnimplemented.String())
		_ = errs.Write(w, r, connect.NewError(connect.CodeUnimplemented, fmt.Errorf("%s is not served by this proxy", r.URL.Path)))
	})
}
