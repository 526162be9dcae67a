package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// watched are the resources the plugin's watch follows, in the order the
// report lists them.
var watched = []string{"datavolumes", "persistentvolumeclaims", "events"}

// readVerbs are the verbs a client that follows an object reads with; the
// report attributes these to the plugin. Writes (CREATE, UPDATE, PATCH,
// DELETE) on the same resources are cdisim's.
var readVerbs = []string{"LIST", "WATCH", "GET"}

// counts are requests by resource and verb.
type counts map[string]map[string]float64

func (c counts) add(resource, verb string, n float64) {
	if c[resource] == nil {
		c[resource] = map[string]float64{}
	}
	c[resource][verb] += n
}

func (c counts) get(resource, verb string) float64 { return c[resource][verb] }

// minus returns c - o, resource by resource and verb by verb.
func (c counts) minus(o counts) counts {
	d := counts{}
	for res, verbs := range c {
		for verb, n := range verbs {
			d.add(res, verb, n)
		}
	}
	for res, verbs := range o {
		for verb, n := range verbs {
			d.add(res, verb, -n)
		}
	}
	return d
}

// serverMetrics reads kube-apiserver's own /metrics as the admin.
type serverMetrics struct {
	client *http.Client
	url    string
}

func newServerMetrics(cfg *rest.Config, server string) (*serverMetrics, error) {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("a client for the API server's metrics: %w", err)
	}
	return &serverMetrics{client: client, url: strings.TrimSuffix(server, "/") + "/metrics"}, nil
}

// sample is what one scrape says about the watched resources.
type sample struct {
	// requests are apiserver_request_total summed over every label but
	// resource and verb (codes, groups, versions, scopes, subresources).
	requests counts
	// open are apiserver_longrunning_requests by resource and verb: the
	// watches being served now. The server counts a WATCH in
	// apiserver_request_total only when it ends.
	open counts
	// cacheLists are apiserver_cache_list_total by resource (verb LIST):
	// the lists the server answered from its watch cache, whatever verb
	// apiserver_request_total gave them.
	cacheLists counts
}

func (m *serverMetrics) scrape(ctx context.Context) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return sample{}, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return sample{}, fmt.Errorf("read the API server's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return sample{}, fmt.Errorf("read the API server's metrics: GET %s: %s: %s", m.url, resp.Status, body)
	}
	s, err := parseMetrics(resp.Body)
	if err != nil {
		return sample{}, fmt.Errorf("read the API server's metrics: %w", err)
	}
	if len(s.requests) == 0 {
		return sample{}, fmt.Errorf("read the API server's metrics: no apiserver_request_total in %s", m.url)
	}
	return s, nil
}

// parseMetrics picks the two metrics it needs out of Prometheus' text
// format; it keeps only the watched resources.
func parseMetrics(r io.Reader) (sample, error) {
	s := sample{requests: counts{}, open: counts{}, cacheLists: counts{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var into counts
		switch {
		case strings.HasPrefix(line, "apiserver_request_total{"):
			into = s.requests
		case strings.HasPrefix(line, "apiserver_longrunning_requests{"):
			into = s.open
		case strings.HasPrefix(line, "apiserver_cache_list_total{"):
			into = s.cacheLists
		default:
			continue
		}
		open, closing := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
		if closing < open {
			return sample{}, fmt.Errorf("cannot parse %q", line)
		}
		labels := parseLabels(line[open+1 : closing])
		value, err := strconv.ParseFloat(strings.TrimSpace(line[closing+1:]), 64)
		if err != nil {
			return sample{}, fmt.Errorf("cannot parse the value of %q: %w", line, err)
		}
		if prefix, ok := labels["resource_prefix"]; ok {
			// "/cdi.kubevirt.io/datavolumes", "/persistentvolumeclaims"
			labels["resource"] = prefix[strings.LastIndexByte(prefix, '/')+1:]
			labels["verb"] = "LIST"
		}
		into.add(labels["resource"], serverVerb(labels["verb"]), value)
	}
	return s, sc.Err()
}

// serverVerb names a verb as the rest of the benchmark does. The server
// labels requests for built-in resources with its own verbs (CREATE,
// UPDATE), those for custom resources with the HTTP method (POST, PUT).
func serverVerb(verb string) string {
	switch verb {
	case "POST":
		return "CREATE"
	case "PUT":
		return "UPDATE"
	case "WATCHLIST":
		return "WATCH"
	}
	return verb
}

// parseLabels reads name="value",... (no escaped quotes occur in the labels
// read here, and a value with one is only misread, never fatal).
func parseLabels(s string) map[string]string {
	labels := map[string]string{}
	for s != "" {
		name, rest, ok := strings.Cut(s, `="`)
		if !ok {
			break
		}
		value, rest, _ := strings.Cut(rest, `"`)
		labels[strings.TrimSpace(name)] = value
		s = strings.TrimPrefix(rest, ",")
	}
	return labels
}

// requestCounter counts a client's requests by resource and verb, named as
// the API server names them, so that a helper's own requests can be told
// apart from the plugin's in the server's totals.
type requestCounter struct {
	mu    sync.Mutex
	total counts
}

func newRequestCounter() *requestCounter { return &requestCounter{total: counts{}} }

// wrap makes cfg's clients count their requests here.
func (rc *requestCounter) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resource, verb := requestInfo(req)
			rc.mu.Lock()
			rc.total.add(resource, verb, 1)
			rc.mu.Unlock()
			return rt.RoundTrip(req)
		})
	})
	return cfg
}

// snapshot returns the counts so far.
func (rc *requestCounter) snapshot() counts {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.total.minus(nil)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// requestInfo names a request's resource and verb as the API server's
// metrics do: GET of a collection is LIST, with watch=true WATCH.
func requestInfo(req *http.Request) (resource, verb string) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:] // api/v1
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:] // apis/group/version
	default:
		return "", req.Method
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:] // namespaces/NS/resource...
	}
	named := len(parts) >= 2
	if len(parts) > 0 {
		resource = parts[0]
	}
	switch req.Method {
	case http.MethodGet:
		switch w := req.URL.Query().Get("watch"); {
		case w == "true" || w == "1":
			verb = "WATCH"
		case named:
			verb = "GET"
		default:
			verb = "LIST"
		}
	case http.MethodPost:
		verb = "CREATE"
	case http.MethodPut:
		verb = "UPDATE"
	default:
		verb = req.Method // PATCH, DELETE
	}
	return resource, verb
}
