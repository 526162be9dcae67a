package discover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"connectrpc.com/connect"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// etcCeph is where Ceph's own tools keep ceph.conf and keyrings; a variable
// so that tests can point it elsewhere.
var etcCeph = "/etc/ceph"

const (
	rbdProvisionerSuffix = "rbd.csi.ceph.com"
	csiConfigMap         = "ceph-csi-config"
	csiConfigKey         = "config.json"
	// Rook runs its own ceph-csi with the same JSON under other names.
	rookCSIConfigMap = "rook-ceph-csi-config"
	rookCSIConfigKey = "csi-cluster-config-json"
)

// Find says how to reach the Ceph cluster of the scope whose clients are
// given, trying in turn the user's flags, Rook and ceph-csi in that
// cluster, and the local /etc/ceph; the first that applies wins. clients
// may be nil when there is no usable kubeconfig: then only flags and
// /etc/ceph are tried.
//
// Explicit flags that do not add up to a configuration are an error, not
// a reason to look elsewhere: the user asked for them. A cluster source
// that is absent, incomplete or forbidden to read does not apply, and the
// next is tried; any other API error ends the search. When nothing
// applies, the failed_precondition error says what each source lacked.
func Find(ctx context.Context, flags cephconf.Flags, clients *cluster.Clients) (*cephconf.Config, error) {
	f := &finder{flags: flags, clients: clients, op: "find Ceph"}
	if clients != nil && clients.Context != "" {
		f.op = fmt.Sprintf("find Ceph for scope %q", clients.Context)
	}
	sources := []struct {
		name string
		find func(context.Context) (*cephconf.Config, string, error)
	}{
		{"flags", f.fromFlags},
		{"Rook", f.fromRook},
		{"ceph-csi", f.fromCSI},
		{etcCeph, f.fromEtc},
	}
	var tried []string
	for _, s := range sources {
		cfg, why, err := s.find(ctx)
		if err != nil {
			return nil, err
		}
		if cfg != nil {
			cfg.Timeout = flags.Timeout
			if cfg.Timeout <= 0 {
				cfg.Timeout = cephconf.DefaultTimeout
			}
			return cfg, nil
		}
		tried = append(tried, s.name+": "+why)
	}
	return nil, connect.NewError(connect.CodeFailedPrecondition,
		fmt.Errorf("%s: no source applies: %s", f.op, strings.Join(tried, "; ")))
}

// finder holds what every source needs. Each source returns a Config when
// it applies, else the reason it does not; an error ends the search.
type finder struct {
	flags   cephconf.Flags
	clients *cluster.Clients
	op      string
}

const noKubeconfig = "not tried: no usable kubeconfig"

func (f *finder) fromFlags(context.Context) (*cephconf.Config, string, error) {
	fl := f.flags
	var given []string
	for _, g := range []struct{ flag, value string }{
		{"--ceph-mon-host", fl.MonHost}, {"--ceph-key-file", fl.KeyFile}, {"--ceph-conf", fl.Conf},
		{"--ceph-keyring", fl.Keyring}, {"--ceph-user", fl.User},
	} {
		if g.value != "" {
			given = append(given, g.flag)
		}
	}
	if len(given) == 0 {
		return nil, "none given (--ceph-mon-host, --ceph-key-file, --ceph-conf, --ceph-keyring, --ceph-user)", nil
	}
	fail := func(format string, args ...any) (*cephconf.Config, string, error) {
		return nil, "", connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%s from flags (%s): %w", f.op, strings.Join(given, ", "), fmt.Errorf(format, args...)))
	}

	user := trimUser(fl.User)
	cfg := &cephconf.Config{MonHost: strings.TrimSpace(fl.MonHost), Source: "flags"}
	var conf *cephConf
	if fl.Conf != "" {
		var err error
		if conf, err = readConf(fl.Conf); err != nil {
			return fail("read --ceph-conf: %w", err)
		}
		cfg.ConfFile = fl.Conf
	}

	var keyErr error
	switch {
	case fl.KeyFile != "":
		key, err := readKeyFile(fl.KeyFile)
		if err != nil {
			if errors.Is(err, errKeyFileIsKeyring) {
				return fail("--ceph-key-file %s: %w: give it with --ceph-keyring instead", fl.KeyFile, err)
			}
			return fail("--ceph-key-file %s: %w", fl.KeyFile, err)
		}
		cfg.User, cfg.Key = orAdmin(user), key
	case fl.Keyring != "":
		k, err := readKeyring(fl.Keyring)
		if err != nil {
			return fail("read --ceph-keyring: %w", err)
		}
		u, key, err := k.pick(user)
		if err != nil {
			return fail("--ceph-keyring %s: %w", fl.Keyring, err)
		}
		cfg.User, cfg.Key = u, key
	case conf != nil:
		cfg.User, cfg.Key, keyErr = conf.key(user)
		if keyErr != nil && !errors.Is(keyErr, errNoKeyring) {
			return fail("--ceph-conf %s: %w", fl.Conf, keyErr)
		}
	}
	if cfg.MonHost == "" && conf != nil {
		// The user the key is for may have a section of its own.
		cfg.MonHost = conf.monHost(orAdmin(cfg.User))
	}

	const keyFlags = "give --ceph-key-file (the bare key) or --ceph-keyring"
	switch {
	case cfg.MonHost == "" && cfg.Key == "" && conf == nil:
		return fail("no monitors and no key: give --ceph-mon-host and %s, or --ceph-conf (e.g. --ceph-conf %s)",
			strings.TrimPrefix(keyFlags, "give "), filepath.Join(etcCeph, "ceph.conf"))
	case cfg.MonHost == "" && conf != nil:
		return fail("no monitors: %s has no mon_host; give --ceph-mon-host", fl.Conf)
	case cfg.MonHost == "":
		return fail("no monitors: give --ceph-mon-host, or --ceph-conf with a mon_host")
	case cfg.Key == "" && keyErr != nil:
		return fail("no key: %w; %s", keyErr, keyFlags)
	case cfg.Key == "":
		return fail("no key: %s, or --ceph-conf with a keyring", keyFlags)
	}
	return cfg, "", nil
}

func (f *finder) fromRook(ctx context.Context) (*cephconf.Config, string, error) {
	if f.clients == nil {
		return nil, noKubeconfig, nil
	}
	ns := f.flags.RookNamespace
	if ns == "" {
		ns = cephconf.DefaultRookNamespace
	}
	mon, why, err := f.secret(ctx, ns, "rook-ceph-mon")
	if mon == nil {
		return nil, why, err
	}
	where := fmt.Sprintf("in namespace %q", ns)

	user, key := trimUser(string(mon.Data["ceph-username"])), strings.TrimSpace(string(mon.Data["ceph-secret"]))
	keyFrom := fmt.Sprintf("Secret %q key %q", "rook-ceph-mon", "ceph-secret")
	// Rook before 1.4 kept only the admin key, under admin-secret; external
	// clusters hold the placeholder "admin-secret" there.
	if old := strings.TrimSpace(string(mon.Data["admin-secret"])); key == "" && old != "" && old != "admin-secret" {
		user, key, keyFrom = "admin", old, fmt.Sprintf("Secret %q key %q", "rook-ceph-mon", "admin-secret")
	}
	if key == "" {
		s, why, err := f.secret(ctx, ns, "rook-ceph-admin-keyring")
		if s == nil {
			if err != nil {
				return nil, "", err
			}
			return nil, fmt.Sprintf("Secret %q %s has no ceph-secret, and %s", "rook-ceph-mon", where, why), nil
		}
		k, err := parseKeyring(strings.NewReader(string(s.Data["keyring"])))
		if err != nil {
			return nil, fmt.Sprintf("Secret %q %s: key %q: %v", "rook-ceph-admin-keyring", where, "keyring", err), nil
		}
		if user, key, err = k.pick(pickUser(k, user)); err != nil {
			return nil, fmt.Sprintf("Secret %q %s: key %q: %v", "rook-ceph-admin-keyring", where, "keyring", err), nil
		}
		keyFrom = fmt.Sprintf("Secret %q", "rook-ceph-admin-keyring")
	}
	if err := checkKey(key); err != nil {
		return nil, fmt.Sprintf("%s %s: %v", keyFrom, where, err), nil
	}

	monHost, why, err := f.rookMonHost(ctx, ns)
	if monHost == "" {
		return nil, why, err
	}
	return &cephconf.Config{
		MonHost: monHost,
		User:    orAdmin(user),
		Key:     key,
		Source:  fmt.Sprintf("Rook (namespace %q)", ns),
	}, "", nil
}

// pickUser is the user to take from Rook's admin keyring: the one
// rook-ceph-mon names if the keyring has it, else whatever the keyring has.
func pickUser(k keyring, user string) string {
	if user != "" && k.has(user) {
		return user
	}
	return ""
}

// rookMonHost reads the monitors from rook-ceph-mon-endpoints
// ("a=10.0.0.1:6789,b=..."), or else from rook-ceph-config's mon_host.
func (f *finder) rookMonHost(ctx context.Context, ns string) (string, string, error) {
	where := fmt.Sprintf("in namespace %q", ns)
	cm, whyCM, err := f.configMap(ctx, ns, "rook-ceph-mon-endpoints")
	if err != nil {
		return "", "", err
	}
	if cm != nil {
		var hosts []string
		for _, e := range strings.Split(cm.Data["data"], ",") {
			if _, addr, ok := strings.Cut(e, "="); ok {
				e = addr
			}
			if e = strings.TrimSpace(e); e != "" {
				hosts = append(hosts, e)
			}
		}
		if len(hosts) > 0 {
			return strings.Join(hosts, ","), "", nil
		}
		whyCM = fmt.Sprintf("ConfigMap %q %s lists no monitors", "rook-ceph-mon-endpoints", where)
	}
	s, whySecret, err := f.secret(ctx, ns, "rook-ceph-config")
	if err != nil {
		return "", "", err
	}
	if s != nil {
		if v := strings.TrimSpace(string(s.Data["mon_host"])); v != "" {
			return v, "", nil
		}
		whySecret = fmt.Sprintf("Secret %q %s has no mon_host", "rook-ceph-config", where)
	}
	return "", fmt.Sprintf("no monitors: %s, and %s", whyCM, whySecret), nil
}

func (f *finder) fromCSI(ctx context.Context) (*cephconf.Config, string, error) {
	if f.clients == nil {
		return nil, noKubeconfig, nil
	}
	list, err := f.clients.Storage.StorageClasses().List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsForbidden(err):
		return nil, "not allowed to list StorageClasses", nil
	case err != nil:
		return nil, "", cluster.Error(err, f.op+": list StorageClasses")
	}
	var classes []*storagev1.StorageClass
	for i := range list.Items {
		if strings.HasSuffix(list.Items[i].Provisioner, rbdProvisionerSuffix) {
			classes = append(classes, &list.Items[i])
		}
	}
	if len(classes) == 0 {
		return nil, "no StorageClass with an " + rbdProvisionerSuffix + " provisioner", nil
	}
	sort.SliceStable(classes, func(i, j int) bool {
		if di, dj := isDefaultClass(classes[i]), isDefaultClass(classes[j]); di != dj {
			return di
		}
		return classes[i].Name < classes[j].Name
	})

	// A class that does not work does not stop the search: the next may
	// name a secret this user can read.
	var whys []string
	for _, sc := range classes {
		cfg, why, err := f.fromStorageClass(ctx, sc)
		if err != nil || cfg != nil {
			return cfg, "", err
		}
		whys = append(whys, fmt.Sprintf("StorageClass %q: %s", sc.Name, why))
	}
	return nil, strings.Join(whys, ", "), nil
}

func isDefaultClass(sc *storagev1.StorageClass) bool {
	return sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" ||
		sc.Annotations["storageclass.beta.kubernetes.io/is-default-class"] == "true"
}

func (f *finder) fromStorageClass(ctx context.Context, sc *storagev1.StorageClass) (*cephconf.Config, string, error) {
	clusterID := sc.Parameters["clusterID"]
	if clusterID == "" {
		return nil, "no clusterID parameter", nil
	}

	// The provisioner's secret can make snapshots; the node's may only map
	// images, but is better than nothing.
	var secret *corev1.Secret
	var user, key string
	var whys []string
	seen := map[string]bool{}
	for _, role := range []string{"provisioner", "node-stage", "controller-expand"} {
		name := sc.Parameters["csi.storage.k8s.io/"+role+"-secret-name"]
		ns := sc.Parameters["csi.storage.k8s.io/"+role+"-secret-namespace"]
		switch {
		case name == "":
			continue
		case ns == "":
			whys = append(whys, fmt.Sprintf("Secret %q has no namespace (%s-secret-namespace)", name, role))
			continue
		case strings.Contains(name+ns, "${"):
			// Per-claim templates name no one secret to read.
			whys = append(whys, fmt.Sprintf("the %s secret is a template (%s/%s)", role, ns, name))
			continue
		case seen[ns+"/"+name]:
			continue
		}
		seen[ns+"/"+name] = true
		s, why, err := f.secret(ctx, ns, name)
		if err != nil {
			return nil, "", err
		}
		if s == nil {
			whys = append(whys, why)
			continue
		}
		u, k, why := csiCredentials(s)
		if why != "" {
			whys = append(whys, why)
			continue
		}
		secret, user, key = s, u, k
		break
	}
	if secret == nil {
		if len(whys) == 0 {
			return nil, "no csi.storage.k8s.io/provisioner-secret-name or node-stage-secret-name parameter", nil
		}
		return nil, strings.Join(whys, ", "), nil
	}

	monitors, whys, err := f.csiMonitors(ctx, secret.Namespace, clusterID)
	if err != nil {
		return nil, "", err
	}
	if monitors == "" {
		return nil, fmt.Sprintf("no monitors for clusterID %q: %s", clusterID, strings.Join(whys, ", ")), nil
	}
	return &cephconf.Config{
		MonHost: monitors,
		User:    user,
		Key:     key,
		Source:  fmt.Sprintf("ceph-csi (StorageClass %q, Secret %q in %q)", sc.Name, secret.Name, secret.Namespace),
	}, "", nil
}

// csiCredentials reads userID and userKey, or the adminID and adminKey of
// ceph-csi before 3.0.
func csiCredentials(s *corev1.Secret) (user, key, why string) {
	for _, p := range [][2]string{{"userID", "userKey"}, {"adminID", "adminKey"}} {
		user, key = trimUser(string(s.Data[p[0]])), strings.TrimSpace(string(s.Data[p[1]]))
		if user == "" && key == "" {
			continue
		}
		if user == "" {
			return "", "", fmt.Sprintf("Secret %q in %q has %s but no %s", s.Name, s.Namespace, p[1], p[0])
		}
		if key == "" {
			return "", "", fmt.Sprintf("Secret %q in %q has %s but no %s", s.Name, s.Namespace, p[0], p[1])
		}
		if err := checkKey(key); err != nil {
			return "", "", fmt.Sprintf("Secret %q in %q key %q: %v", s.Name, s.Namespace, p[1], err)
		}
		return user, key, ""
	}
	return "", "", fmt.Sprintf("Secret %q in %q has no userID and userKey", s.Name, s.Namespace)
}

// csiMonitors finds clusterID's monitors in ceph-csi's config: in the
// secret's namespace (where the Helm chart puts both), under Rook's name
// for it there, and then in any namespace.
func (f *finder) csiMonitors(ctx context.Context, ns, clusterID string) (string, []string, error) {
	var whys []string
	for _, c := range [][2]string{{csiConfigMap, csiConfigKey}, {rookCSIConfigMap, rookCSIConfigKey}} {
		cm, why, err := f.configMap(ctx, ns, c[0])
		if err != nil {
			return "", nil, err
		}
		if cm == nil {
			if c[0] == csiConfigMap {
				whys = append(whys, why)
			}
			continue
		}
		mons, why := monitorsOf(cm, c[1], clusterID)
		if mons != "" {
			return mons, nil, nil
		}
		whys = append(whys, why)
	}

	list, err := f.clients.Core.ConfigMaps(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", csiConfigMap).String(),
	})
	switch {
	case apierrors.IsForbidden(err):
		return "", append(whys, fmt.Sprintf("not allowed to list ConfigMaps %q in all namespaces", csiConfigMap)), nil
	case err != nil:
		return "", nil, cluster.Error(err, fmt.Sprintf("%s: list ConfigMaps %q in all namespaces", f.op, csiConfigMap))
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Namespace < items[j].Namespace })
	found := false
	for i := range items {
		cm := &items[i]
		// Not every server (nor the fake clientset) honours the selector.
		if cm.Name != csiConfigMap || cm.Namespace == ns {
			continue
		}
		found = true
		mons, why := monitorsOf(cm, csiConfigKey, clusterID)
		if mons != "" {
			return mons, nil, nil
		}
		whys = append(whys, why)
	}
	if !found {
		whys = append(whys, fmt.Sprintf("no ConfigMap %q in other namespaces", csiConfigMap))
	}
	return "", whys, nil
}

// monitorsOf reads ceph-csi's config.json: [{"clusterID": "...",
// "monitors": ["10.0.0.1:6789", ...]}, ...].
func monitorsOf(cm *corev1.ConfigMap, key, clusterID string) (string, string) {
	where := fmt.Sprintf("ConfigMap %q in %q", cm.Name, cm.Namespace)
	data, ok := cm.Data[key]
	if !ok {
		return "", fmt.Sprintf("%s has no %s", where, key)
	}
	var entries []struct {
		ClusterID string   `json:"clusterID"`
		Monitors  []string `json:"monitors"`
	}
	if err := json.Unmarshal([]byte(data), &entries); err != nil {
		return "", fmt.Sprintf("%s: %s is not a JSON list of clusters: %v", where, key, err)
	}
	for _, e := range entries {
		if e.ClusterID != clusterID {
			continue
		}
		var mons []string
		for _, m := range e.Monitors {
			if m = strings.TrimSpace(m); m != "" {
				mons = append(mons, m)
			}
		}
		if len(mons) == 0 {
			return "", fmt.Sprintf("%s lists no monitors for the cluster", where)
		}
		return strings.Join(mons, ","), ""
	}
	return "", fmt.Sprintf("%s has no entry for the cluster", where)
}

func (f *finder) fromEtc(context.Context) (*cephconf.Config, string, error) {
	path := filepath.Join(etcCeph, "ceph.conf")
	conf, err := readConf(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "no " + path, nil
	case err != nil:
		return nil, err.Error(), nil
	}
	user, key, err := conf.key("")
	if err != nil {
		return nil, err.Error(), nil
	}
	monHost := conf.monHost(user)
	if monHost == "" {
		return nil, path + " has no mon_host", nil
	}
	return &cephconf.Config{MonHost: monHost, User: user, Key: key, ConfFile: path, Source: path}, "", nil
}

// errNoKeyring means that none of the keyrings that the conf points to
// exists; the message lists them.
var errNoKeyring = errors.New("no keyring")

// key finds client.user's key as librados would with this conf: a key or
// keyfile option, or else the first keyring file that exists. With no user,
// the keyring's only client or client.admin.
func (c *cephConf) key(user string) (string, string, error) {
	u := orAdmin(user)
	if key := c.get(u, "key"); key != "" {
		if err := checkKey(key); err != nil {
			return "", "", fmt.Errorf("%s: the key option of client.%s: %w", c.path, u, err)
		}
		return u, key, nil
	}
	if kf := c.get(u, "keyfile"); kf != "" {
		kf = c.expand(kf, u)
		key, err := readKeyFile(kf)
		if err != nil {
			return "", "", fmt.Errorf("%s: keyfile %s: %w", c.path, kf, err)
		}
		return u, key, nil
	}
	paths := c.keyringPaths(u, user != "")
	for _, p := range paths {
		k, err := readKeyring(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return "", "", fmt.Errorf("read keyring: %w", err)
		}
		u, key, err := k.pick(user)
		if err != nil {
			return "", "", fmt.Errorf("keyring %s: %w", p, err)
		}
		return u, key, nil
	}
	return "", "", fmt.Errorf("%w for client.%s: none of %s exists", errNoKeyring, u, strings.Join(paths, ", "))
}

// errKeyFileIsKeyring says that a key file holds a whole keyring.
var errKeyFileIsKeyring = errors.New("it holds a keyring, not a bare key")

// readKeyFile reads a file that holds just a base64 key, as ceph-csi's
// userKey and Ceph's keyfile option do.
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(string(b))
	if strings.HasPrefix(key, "[") {
		return "", errKeyFileIsKeyring
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	return key, nil
}

func orAdmin(user string) string {
	if user == "" {
		return "admin"
	}
	return user
}

// secret gets a Secret, or says why there is none to read.
func (f *finder) secret(ctx context.Context, ns, name string) (*corev1.Secret, string, error) {
	s, err := f.clients.Core.Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	why, err := f.absent(err, "Secret", ns, name)
	if why != "" || err != nil {
		return nil, why, err
	}
	return s, "", nil
}

// configMap gets a ConfigMap, or says why there is none to read.
func (f *finder) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, string, error) {
	cm, err := f.clients.Core.ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	why, err := f.absent(err, "ConfigMap", ns, name)
	if why != "" || err != nil {
		return nil, why, err
	}
	return cm, "", nil
}

// absent turns a Get's error into a reason the source does not apply (the
// object is missing, or the user may not read it: a ceph-csi user need not
// see Rook's namespace), or else into the error that ends the search.
func (f *finder) absent(err error, kind, ns, name string) (string, error) {
	switch {
	case err == nil:
		return "", nil
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("no %s %q in namespace %q", kind, name, ns), nil
	case apierrors.IsForbidden(err):
		return fmt.Sprintf("not allowed to read %s %q in namespace %q", kind, name, ns), nil
	}
	return "", cluster.Error(err, fmt.Sprintf("%s: get %s %q in namespace %q", f.op, kind, name, ns))
}
