package discover

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// One key per place a key can come from, so that a test sees which source
// won and can check that no message ever shows any of them.
var (
	flagKey     = cephKey("flag-key")
	fileKey     = cephKey("keyring-file")
	otherKey    = cephKey("other-user")
	rookKey     = cephKey("rook-ceph-secret")
	rookOldKey  = cephKey("rook-admin-secret")
	rookRingKey = cephKey("rook-admin-keyring")
	csiKey      = cephKey("csi-provisioner")
	csiNodeKey  = cephKey("csi-node")
	csiOtherKey = cephKey("csi-other-class")
	etcKey      = cephKey("etc-ceph")
	badKey      = "SECRET-not*base64*" + cephKey("bad")

	allKeys = []string{flagKey, fileKey, otherKey, rookKey, rookOldKey, rookRingKey, csiKey, csiNodeKey, csiOtherKey, etcKey, badKey}
)

const allFlags = "flags: none given (--ceph-mon-host, --ceph-key-file, --ceph-conf, --ceph-keyring, --ceph-user)"

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func configMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

// rook is what a Rook cluster in ns holds.
func rook(ns string) []runtime.Object {
	return []runtime.Object{
		secret(ns, "rook-ceph-mon", map[string]string{
			"fsid": "0a1b2c", "ceph-username": "client.admin", "ceph-secret": rookKey, "mon-secret": cephKey("mon"),
		}),
		configMap(ns, "rook-ceph-mon-endpoints", map[string]string{
			"data": "a=10.1.0.1:6789,b=10.1.0.2:6789,c=10.1.0.3:6789", "maxMonId": "2",
		}),
		secret(ns, "rook-ceph-config", map[string]string{"mon_host": "[v2:10.1.9.9:3300,v1:10.1.9.9:6789]"}),
		secret(ns, "rook-ceph-admin-keyring", map[string]string{"keyring": "[client.admin]\n\tkey = " + rookRingKey + "\n"}),
	}
}

func without(objs []runtime.Object, kind, name string) []runtime.Object {
	var out []runtime.Object
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Secret:
			if kind == "Secret" && o.Name == name {
				continue
			}
		case *corev1.ConfigMap:
			if kind == "ConfigMap" && o.Name == name {
				continue
			}
		}
		out = append(out, o)
	}
	return out
}

func storageClass(name, provisioner string, isDefault bool, params map[string]string) *storagev1.StorageClass {
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner, Parameters: params}
	if isDefault {
		sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	}
	return sc
}

func csiParams(clusterID, secretNS, provisioner, nodeStage string) map[string]string {
	p := map[string]string{"clusterID": clusterID, "pool": "rbd", "imageFeatures": "layering"}
	if provisioner != "" {
		p["csi.storage.k8s.io/provisioner-secret-name"] = provisioner
		p["csi.storage.k8s.io/provisioner-secret-namespace"] = secretNS
		p["csi.storage.k8s.io/controller-expand-secret-name"] = provisioner
		p["csi.storage.k8s.io/controller-expand-secret-namespace"] = secretNS
	}
	if nodeStage != "" {
		p["csi.storage.k8s.io/node-stage-secret-name"] = nodeStage
		p["csi.storage.k8s.io/node-stage-secret-namespace"] = secretNS
	}
	return p
}

// csi is what the ceph-csi Helm chart leaves in namespace ceph-csi.
func csi() []runtime.Object {
	return []runtime.Object{
		storageClass("ceph-block", "rbd.csi.ceph.com", false, csiParams("c1", "ceph-csi", "csi-rbd-secret", "csi-rbd-node")),
		storageClass("cephfs", "cephfs.csi.ceph.com", true, csiParams("c1", "ceph-csi", "csi-fs-secret", "")),
		secret("ceph-csi", "csi-rbd-secret", map[string]string{"userID": "csi-rbd", "userKey": csiKey}),
		secret("ceph-csi", "csi-rbd-node", map[string]string{"userID": "csi-node", "userKey": csiNodeKey}),
		configMap("ceph-csi", "ceph-csi-config", map[string]string{
			"config.json": `[{"clusterID":"c0","monitors":["10.9.0.1:6789"]},{"clusterID":"c1","monitors":["10.2.0.1:6789","10.2.0.2:6789"]}]`,
		}),
	}
}

func join(sets ...[]runtime.Object) []runtime.Object {
	var out []runtime.Object
	for _, s := range sets {
		out = append(out, s...)
	}
	return out
}

// reactor answers verb on resource (name "" for any) with err.
func reactor(verb, resource, name string, err error) func(*fake.Clientset) {
	return func(cs *fake.Clientset) {
		cs.PrependReactor(verb, resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
			if g, ok := a.(k8stesting.GetAction); ok && name != "" && g.GetName() != name {
				return false, nil, nil
			}
			return true, nil, err
		})
	}
}

func forbidden(verb, resource, name string) func(*fake.Clientset) {
	return reactor(verb, resource, name,
		apierrors.NewForbidden(schema.GroupResource{Resource: resource}, name, errors.New("RBAC says no")))
}

var refused = &url.Error{Op: "Get", URL: "https://10.0.0.1:6443", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}

const etcConf = "[global]\n\tfsid = 0a1b\n\tmon host = 10.3.0.1:6789,10.3.0.2:6789\n"

type findCase struct {
	name  string
	flags cephconf.Flags
	// files are written below a temp dir, the only part of the test that
	// "$DIR" stands for; etc are the files of etcCeph ("$DIR/etc").
	files map[string]string
	etc   map[string]string
	// objects are in the cluster of scope "prod"; noClients means there
	// is no usable kubeconfig.
	objects   []runtime.Object
	noClients bool
	react     []func(*fake.Clientset)

	want *cephconf.Config
	// or an error with code and message parts
	code   connect.Code
	errHas []string
}

func runFind(t *testing.T, tt findCase) {
	t.Helper()
	dir := t.TempDir()
	old := etcCeph
	t.Cleanup(func() { etcCeph = old })
	etcCeph = filepath.Join(dir, "etc")
	sub := func(s string) string { return strings.ReplaceAll(s, "$DIR", dir) }
	write := func(base string, files map[string]string) {
		for name, text := range files {
			p := filepath.Join(base, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(sub(text)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(dir, tt.files)
	write(etcCeph, tt.etc)

	flags := tt.flags
	for _, f := range []*string{&flags.Conf, &flags.Keyring, &flags.KeyFile} {
		*f = sub(*f)
	}
	var clients *cluster.Clients
	if !tt.noClients {
		cs := fake.NewClientset(tt.objects...)
		for _, r := range tt.react {
			r(cs)
		}
		clients = &cluster.Clients{Context: "prod", Namespace: "default", Core: cs.CoreV1(), Storage: cs.StorageV1()}
	}

	cfg, err := Find(context.Background(), flags, clients)
	if tt.want == nil {
		if err == nil {
			t.Fatalf("found %v, want an error", cfg)
		}
		if got := connect.CodeOf(err); got != tt.code {
			t.Errorf("code %v, want %v (%v)", got, tt.code, err)
		}
		for _, part := range tt.errHas {
			if !strings.Contains(err.Error(), sub(part)) {
				t.Errorf("error\n\t%s\nlacks\n\t%s", err, sub(part))
			}
		}
		for _, k := range allKeys {
			if strings.Contains(err.Error(), k) {
				t.Errorf("error %q shows key %s", err, k)
			}
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	want := *tt.want
	want.ConfFile, want.Source = sub(want.ConfFile), sub(want.Source)
	if want.Timeout == 0 {
		want.Timeout = cephconf.DefaultTimeout
	}
	if *cfg != want {
		// Config's String hides the key: compare the fields one by one.
		t.Errorf("got  %+v key %s\nwant %+v key %s", cfg.String(), cfg.Key, want.String(), want.Key)
		if cfg.ConfFile != want.ConfFile || cfg.Timeout != want.Timeout {
			t.Errorf("conf file %q timeout %v, want %q %v", cfg.ConfFile, cfg.Timeout, want.ConfFile, want.Timeout)
		}
	}
	if strings.Contains(cfg.String(), cfg.Key) {
		t.Errorf("%s shows the key", cfg)
	}
}

func TestFindFlags(t *testing.T) {
	keyring := "[client.admin]\n\tkey = " + fileKey + "\n\tcaps mon = \"allow *\"\n"
	for _, tt := range []findCase{
		{
			name:  "mon host and key file",
			flags: cephconf.Flags{MonHost: "10.0.0.1:6789,10.0.0.2:6789", KeyFile: "$DIR/key"},
			files: map[string]string{"key": "  " + flagKey + "\n"},
			want:  &cephconf.Config{MonHost: "10.0.0.1:6789,10.0.0.2:6789", User: "admin", Key: flagKey, Source: "flags"},
		},
		{
			name:  "user with client. prefix and a timeout",
			flags: cephconf.Flags{MonHost: "10.0.0.1", KeyFile: "$DIR/key", User: "client.csi", Timeout: 2 * time.Second},
			files: map[string]string{"key": flagKey},
			want:  &cephconf.Config{MonHost: "10.0.0.1", User: "csi", Key: flagKey, Source: "flags", Timeout: 2 * time.Second},
		},
		{
			name:  "keyring's only entry names the user",
			flags: cephconf.Flags{MonHost: "10.0.0.1", Keyring: "$DIR/k"},
			files: map[string]string{"k": "[client.backup]\n\tkey = " + fileKey + "\n"},
			want:  &cephconf.Config{MonHost: "10.0.0.1", User: "backup", Key: fileKey, Source: "flags"},
		},
		{
			name:  "keyring with several users: admin",
			flags: cephconf.Flags{MonHost: "10.0.0.1", Keyring: "$DIR/k"},
			files: map[string]string{"k": "[client.other]\nkey = " + otherKey + "\n" + keyring},
			want:  &cephconf.Config{MonHost: "10.0.0.1", User: "admin", Key: fileKey, Source: "flags"},
		},
		{
			name:  "keyring with several users: the one asked for",
			flags: cephconf.Flags{MonHost: "10.0.0.1", Keyring: "$DIR/k", User: "other"},
			files: map[string]string{"k": keyring + "[client.other]\nkey = " + otherKey + "\n"},
			want:  &cephconf.Config{MonHost: "10.0.0.1", User: "other", Key: otherKey, Source: "flags"},
		},
		{
			name:  "key file wins over keyring",
			flags: cephconf.Flags{MonHost: "10.0.0.1", Keyring: "$DIR/k", KeyFile: "$DIR/key"},
			files: map[string]string{"k": keyring, "key": flagKey},
			want:  &cephconf.Config{MonHost: "10.0.0.1", User: "admin", Key: flagKey, Source: "flags"},
		},
		{
			name:  "conf with its keyring setting",
			flags: cephconf.Flags{Conf: "$DIR/c/ceph.conf"},
			files: map[string]string{
				"c/ceph.conf":                         "[global]\nmon_host = 10.0.0.1:6789\n[client]\nkeyring = $DIR/elsewhere/$cluster.$name.keyring\n",
				"elsewhere/ceph.client.admin.keyring": keyring,
			},
			want: &cephconf.Config{MonHost: "10.0.0.1:6789", User: "admin", Key: fileKey, ConfFile: "$DIR/c/ceph.conf", Source: "flags"},
		},
		{
			name:  "conf with mon-host and the keyring beside it",
			flags: cephconf.Flags{Conf: "$DIR/c/ceph.conf"},
			files: map[string]string{
				"c/ceph.conf":                 "[global]\nmon-host = 10.0.0.1:6789\n",
				"c/ceph.client.admin.keyring": keyring,
			},
			want: &cephconf.Config{MonHost: "10.0.0.1:6789", User: "admin", Key: fileKey, ConfFile: "$DIR/c/ceph.conf", Source: "flags"},
		},
		{
			name:  "conf and user: the user's section and keyring",
			flags: cephconf.Flags{Conf: "$DIR/c/ceph.conf", User: "other"},
			files: map[string]string{
				"c/ceph.conf":                 "[global]\nmon host = 10.0.0.1\n[client.other]\nmon host = 10.0.0.7\n",
				"c/ceph.client.admin.keyring": keyring,
				"c/ceph.client.other.keyring": "[client.other]\nkey = " + otherKey + "\n",
			},
			want: &cephconf.Config{MonHost: "10.0.0.7", User: "other", Key: otherKey, ConfFile: "$DIR/c/ceph.conf", Source: "flags"},
		},
		{
			name:  "conf and the keyring's only user: that user's section",
			flags: cephconf.Flags{Conf: "$DIR/c/ceph.conf"},
			files: map[string]string{
				"c/ceph.conf":                  "[global]\nmon host = 10.0.0.1\n[client.backup]\nmon host = 10.0.0.8\n",
				"c/ceph.client.backup.keyring": "[client.backup]\nkey = " + otherKey + "\n",
			},
			want: &cephconf.Config{MonHost: "10.0.0.8", User: "backup", Key: otherKey, ConfFile: "$DIR/c/ceph.conf", Source: "flags"},
		},
		{
			name:  "conf with a key option",
			flags: cephconf.Flags{Conf: "$DIR/ceph.conf", User: "other"},
			files: map[string]string{"ceph.conf": "[global]\nmon host = 10.0.0.1\n[client.other]\nkey = " + otherKey + "\n"},
			want:  &cephconf.Config{MonHost: "10.0.0.1", User: "other", Key: otherKey, ConfFile: "$DIR/ceph.conf", Source: "flags"},
		},
		{
			name:  "conf with a keyfile option",
			flags: cephconf.Flags{Conf: "$DIR/ceph.conf"},
			files: map[string]string{"ceph.conf": "[global]\nmon host = 10.0.0.1\nkeyfile = $DIR/$name.key\n", "client.admin.key": flagKey},
			want:  &cephconf.Config{MonHost: "10.0.0.1", User: "admin", Key: flagKey, ConfFile: "$DIR/ceph.conf", Source: "flags"},
		},
		{
			name:  "mon host flag over the conf's, keyring flag over the conf's",
			flags: cephconf.Flags{Conf: "$DIR/ceph.conf", MonHost: "10.0.0.5", Keyring: "$DIR/k"},
			files: map[string]string{
				"ceph.conf":                 "[global]\nmon host = 10.0.0.1\n",
				"ceph.client.admin.keyring": "[client.admin]\nkey = " + otherKey + "\n",
				"k":                         keyring,
			},
			want: &cephconf.Config{MonHost: "10.0.0.5", User: "admin", Key: fileKey, ConfFile: "$DIR/ceph.conf", Source: "flags"},
		},
		{
			name:    "flags win over Rook, ceph-csi and /etc/ceph",
			flags:   cephconf.Flags{MonHost: "10.0.0.1", KeyFile: "$DIR/key"},
			files:   map[string]string{"key": flagKey},
			etc:     map[string]string{"ceph.conf": etcConf, "ceph.client.admin.keyring": "[client.admin]\nkey = " + etcKey + "\n"},
			objects: join(rook("rook-ceph"), csi()),
			want:    &cephconf.Config{MonHost: "10.0.0.1", User: "admin", Key: flagKey, Source: "flags"},
		},

		// Incomplete or broken flags fail, even though Rook would do.
		{
			name:    "mon host but no key",
			flags:   cephconf.Flags{MonHost: "10.0.0.1"},
			objects: rook("rook-ceph"),
			code:    connect.CodeFailedPrecondition,
			errHas: []string{`find Ceph for scope "prod" from flags (--ceph-mon-host): no key: ` +
				`give --ceph-key-file (the bare key) or --ceph-keyring, or --ceph-conf with a keyring`},
		},
		{
			name:    "key file but no mon host",
			flags:   cephconf.Flags{KeyFile: "$DIR/key"},
			files:   map[string]string{"key": flagKey},
			objects: rook("rook-ceph"),
			code:    connect.CodeFailedPrecondition,
			errHas:  []string{`from flags (--ceph-key-file): no monitors: give --ceph-mon-host, or --ceph-conf with a mon_host`},
		},
		{
			name:    "only a user",
			flags:   cephconf.Flags{User: "csi"},
			objects: rook("rook-ceph"),
			code:    connect.CodeFailedPrecondition,
			errHas: []string{`from flags (--ceph-user): no monitors and no key: give --ceph-mon-host and ` +
				`--ceph-key-file (the bare key) or --ceph-keyring, or --ceph-conf (e.g. --ceph-conf $DIR/etc/ceph.conf)`},
		},
		{
			name:   "conf without mon_host",
			flags:  cephconf.Flags{Conf: "$DIR/ceph.conf", KeyFile: "$DIR/key"},
			files:  map[string]string{"ceph.conf": "[global]\nfsid = 0a1b\n", "key": flagKey},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{`from flags (--ceph-key-file, --ceph-conf): no monitors: $DIR/ceph.conf has no mon_host; give --ceph-mon-host`},
		},
		{
			name:  "conf without a keyring",
			flags: cephconf.Flags{Conf: "$DIR/c/ceph.conf"},
			files: map[string]string{"c/ceph.conf": "[global]\nmon host = 10.0.0.1\n"},
			code:  connect.CodeFailedPrecondition,
			errHas: []string{`from flags (--ceph-conf): no key: no keyring for client.admin: none of ` +
				`$DIR/c/ceph.client.admin.keyring, $DIR/c/ceph.keyring, $DIR/c/keyring, $DIR/etc/ceph.client.admin.keyring, ` +
				`$DIR/etc/ceph.keyring, $DIR/etc/keyring exists; give --ceph-key-file (the bare key) or --ceph-keyring`},
		},
		{
			name:   "conf missing",
			flags:  cephconf.Flags{Conf: "$DIR/nope.conf", MonHost: "10.0.0.1"},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"read --ceph-conf: open $DIR/nope.conf: no such file or directory"},
		},
		{
			name:   "conf unparsable",
			flags:  cephconf.Flags{Conf: "$DIR/ceph.conf"},
			files:  map[string]string{"ceph.conf": "[global\nkey = " + flagKey + "\n"},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"read --ceph-conf: $DIR/ceph.conf: line 1: a section header without \"]\""},
		},
		{
			name:   "key file missing",
			flags:  cephconf.Flags{MonHost: "10.0.0.1", KeyFile: "$DIR/nope"},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"--ceph-key-file $DIR/nope: open $DIR/nope: no such file or directory"},
		},
		{
			name:   "key file not base64",
			flags:  cephconf.Flags{MonHost: "10.0.0.1", KeyFile: "$DIR/key"},
			files:  map[string]string{"key": badKey},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"--ceph-key-file $DIR/key: the key is not valid base64"},
		},
		{
			name:   "key file holding a keyring",
			flags:  cephconf.Flags{MonHost: "10.0.0.1", KeyFile: "$DIR/key"},
			files:  map[string]string{"key": keyring},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"--ceph-key-file $DIR/key: it holds a keyring, not a bare key: give it with --ceph-keyring instead"},
		},
		{
			name:   "keyring without the user",
			flags:  cephconf.Flags{MonHost: "10.0.0.1", Keyring: "$DIR/k", User: "csi"},
			files:  map[string]string{"k": keyring},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"--ceph-keyring $DIR/k: it has no key for client.csi, only for client.admin"},
		},
		{
			name:   "keyring with a bad key",
			flags:  cephconf.Flags{MonHost: "10.0.0.1", Keyring: "$DIR/k"},
			files:  map[string]string{"k": "[client.admin]\nkey = " + badKey + "\n"},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"--ceph-keyring $DIR/k: the key of client.admin: the key is not valid base64"},
		},
		{
			name:   "keyring with a malformed line",
			flags:  cephconf.Flags{MonHost: "10.0.0.1", Keyring: "$DIR/k"},
			files:  map[string]string{"k": "[client.admin]\n\tkey " + strings.TrimRight(fileKey, "=") + "\n"},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"read --ceph-keyring: keyring $DIR/k: line 2: not a section, a comment or key = value"},
		},
		{
			name:   "conf key option not base64",
			flags:  cephconf.Flags{Conf: "$DIR/ceph.conf"},
			files:  map[string]string{"ceph.conf": "[global]\nmon host = 10.0.0.1\nkey = " + badKey + "\n"},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"--ceph-conf $DIR/ceph.conf: $DIR/ceph.conf: the key option of client.admin: the key is not valid base64"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) { runFind(t, tt) })
	}
}

func TestFindRook(t *testing.T) {
	rookCfg := func(mons, key string) *cephconf.Config {
		return &cephconf.Config{MonHost: mons, User: "admin", Key: key, Source: `Rook (namespace "rook-ceph")`}
	}
	const mons = "10.1.0.1:6789,10.1.0.2:6789,10.1.0.3:6789"
	for _, tt := range []findCase{
		{
			name:    "secret and endpoints",
			objects: rook("rook-ceph"),
			want:    rookCfg(mons, rookKey),
		},
		{
			name:    "another namespace",
			flags:   cephconf.Flags{RookNamespace: "storage", Timeout: time.Minute},
			objects: join(rook("storage"), rook("rook-ceph")[1:]),
			want:    &cephconf.Config{MonHost: mons, User: "admin", Key: rookKey, Source: `Rook (namespace "storage")`, Timeout: time.Minute},
		},
		{
			name:    "mon_host from rook-ceph-config without the endpoints",
			objects: without(rook("rook-ceph"), "ConfigMap", "rook-ceph-mon-endpoints"),
			want:    rookCfg("[v2:10.1.9.9:3300,v1:10.1.9.9:6789]", rookKey),
		},
		{
			name: "endpoints listing nobody: rook-ceph-config",
			objects: append(without(rook("rook-ceph"), "ConfigMap", "rook-ceph-mon-endpoints"),
				configMap("rook-ceph", "rook-ceph-mon-endpoints", map[string]string{"data": ""})),
			want: rookCfg("[v2:10.1.9.9:3300,v1:10.1.9.9:6789]", rookKey),
		},
		{
			name:    "endpoints forbidden: rook-ceph-config",
			objects: rook("rook-ceph"),
			react:   []func(*fake.Clientset){forbidden("get", "configmaps", "rook-ceph-mon-endpoints")},
			want:    rookCfg("[v2:10.1.9.9:3300,v1:10.1.9.9:6789]", rookKey),
		},
		{
			name: "key from the admin keyring when rook-ceph-mon has none",
			objects: append(without(rook("rook-ceph"), "Secret", "rook-ceph-mon"),
				secret("rook-ceph", "rook-ceph-mon", map[string]string{"fsid": "0a1b2c", "ceph-username": "client.admin"})),
			want: rookCfg(mons, rookRingKey),
		},
		{
			name: "Rook before 1.4: admin-secret",
			objects: append(without(rook("rook-ceph"), "Secret", "rook-ceph-mon"),
				secret("rook-ceph", "rook-ceph-mon", map[string]string{"fsid": "0a1b2c", "admin-secret": rookOldKey})),
			want: rookCfg(mons, rookOldKey),
		},
		{
			name: "external cluster's placeholder admin-secret: the keyring",
			objects: append(without(rook("rook-ceph"), "Secret", "rook-ceph-mon"),
				secret("rook-ceph", "rook-ceph-mon", map[string]string{"fsid": "0a1b2c", "admin-secret": "admin-secret"})),
			want: rookCfg(mons, rookRingKey),
		},
		{
			name: "a key with a newline",
			objects: append(without(rook("rook-ceph"), "Secret", "rook-ceph-mon"),
				secret("rook-ceph", "rook-ceph-mon", map[string]string{"ceph-username": "client.admin", "ceph-secret": rookKey + "\n"})),
			want: rookCfg(mons, rookKey),
		},
		{
			name: "another user",
			objects: append(without(rook("rook-ceph"), "Secret", "rook-ceph-mon"),
				secret("rook-ceph", "rook-ceph-mon", map[string]string{"ceph-username": "client.healthchecker", "ceph-secret": rookKey})),
			want: &cephconf.Config{MonHost: mons, User: "healthchecker", Key: rookKey, Source: `Rook (namespace "rook-ceph")`},
		},
		{
			name:    "Rook wins over ceph-csi and /etc/ceph",
			objects: join(csi(), rook("rook-ceph")),
			etc:     map[string]string{"ceph.conf": etcConf, "ceph.client.admin.keyring": "[client.admin]\nkey = " + etcKey + "\n"},
			want:    rookCfg(mons, rookKey),
		},

		// Rook does not apply: the next source is tried.
		{
			name:    "Rook forbidden: ceph-csi",
			objects: join(rook("rook-ceph"), csi()),
			react:   []func(*fake.Clientset){forbidden("get", "secrets", "rook-ceph-mon")},
			want:    &cephconf.Config{MonHost: "10.2.0.1:6789,10.2.0.2:6789", User: "csi-rbd", Key: csiKey, Source: `ceph-csi (StorageClass "ceph-block", Secret "csi-rbd-secret" in "ceph-csi")`},
		},
		{
			name:    "no monitors anywhere",
			objects: without(without(rook("rook-ceph"), "ConfigMap", "rook-ceph-mon-endpoints"), "Secret", "rook-ceph-config"),
			code:    connect.CodeFailedPrecondition,
			errHas: []string{`; Rook: no monitors: no ConfigMap "rook-ceph-mon-endpoints" in namespace "rook-ceph", ` +
				`and no Secret "rook-ceph-config" in namespace "rook-ceph"; ceph-csi:`},
		},
		{
			name: "no key anywhere",
			objects: append(without(without(rook("rook-ceph"), "Secret", "rook-ceph-mon"), "Secret", "rook-ceph-admin-keyring"),
				secret("rook-ceph", "rook-ceph-mon", map[string]string{"fsid": "0a1b2c"})),
			code: connect.CodeFailedPrecondition,
			errHas: []string{`; Rook: Secret "rook-ceph-mon" in namespace "rook-ceph" has no ceph-secret, ` +
				`and no Secret "rook-ceph-admin-keyring" in namespace "rook-ceph"; ceph-csi:`},
		},
		{
			name: "admin keyring forbidden",
			objects: append(without(rook("rook-ceph"), "Secret", "rook-ceph-mon"),
				secret("rook-ceph", "rook-ceph-mon", map[string]string{"fsid": "0a1b2c"})),
			react:  []func(*fake.Clientset){forbidden("get", "secrets", "rook-ceph-admin-keyring")},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{`and not allowed to read Secret "rook-ceph-admin-keyring" in namespace "rook-ceph"; ceph-csi:`},
		},
		{
			name: "a key that is not base64",
			objects: append(without(rook("rook-ceph"), "Secret", "rook-ceph-mon"),
				secret("rook-ceph", "rook-ceph-mon", map[string]string{"ceph-username": "client.admin", "ceph-secret": badKey})),
			code:   connect.CodeFailedPrecondition,
			errHas: []string{`Rook: Secret "rook-ceph-mon" key "ceph-secret" in namespace "rook-ceph": the key is not valid base64`},
		},
		{
			name: "an admin keyring that is not a keyring",
			objects: append(without(without(rook("rook-ceph"), "Secret", "rook-ceph-mon"), "Secret", "rook-ceph-admin-keyring"),
				secret("rook-ceph", "rook-ceph-mon", map[string]string{"fsid": "0a1b2c"}),
				secret("rook-ceph", "rook-ceph-admin-keyring", map[string]string{"keyring": rookRingKey})),
			code:   connect.CodeFailedPrecondition,
			errHas: []string{`Rook: Secret "rook-ceph-admin-keyring" in namespace "rook-ceph": key "keyring": settings before the first [entity] section`},
		},

		// Other API errors end the search.
		{
			name:    "API server unreachable",
			objects: rook("rook-ceph"),
			react:   []func(*fake.Clientset){reactor("get", "secrets", "", refused)},
			code:    connect.CodeUnavailable,
			errHas:  []string{`find Ceph for scope "prod": get Secret "rook-ceph-mon" in namespace "rook-ceph": `, "is the cluster reachable"},
		},
		{
			name:    "unauthorized",
			objects: join(rook("rook-ceph"), csi()),
			react:   []func(*fake.Clientset){reactor("get", "configmaps", "", apierrors.NewUnauthorized("expired"))},
			code:    connect.CodeUnauthenticated,
			errHas:  []string{`find Ceph for scope "prod": get ConfigMap "rook-ceph-mon-endpoints" in namespace "rook-ceph": `},
		},
	} {
		t.Run(tt.name, func(t *testing.T) { runFind(t, tt) })
	}
}

func TestFindCSI(t *testing.T) {
	csiCfg := &cephconf.Config{
		MonHost: "10.2.0.1:6789,10.2.0.2:6789", User: "csi-rbd", Key: csiKey,
		Source: `ceph-csi (StorageClass "ceph-block", Secret "csi-rbd-secret" in "ceph-csi")`,
	}
	nodeCfg := &cephconf.Config{
		MonHost: "10.2.0.1:6789,10.2.0.2:6789", User: "csi-node", Key: csiNodeKey,
		Source: `ceph-csi (StorageClass "ceph-block", Secret "csi-rbd-node" in "ceph-csi")`,
	}
	// other is a second cluster's class, secret and config elsewhere.
	other := func(name string, isDefault bool) []runtime.Object {
		return []runtime.Object{
			storageClass(name, "openshift-storage.rbd.csi.ceph.com", isDefault, csiParams("c2", "other", "other-secret", "")),
			secret("other", "other-secret", map[string]string{"userID": "other", "userKey": csiOtherKey}),
			configMap("other", "ceph-csi-config", map[string]string{"config.json": `[{"clusterID":"c2","monitors":["10.4.0.1:6789"]}]`}),
		}
	}
	otherCfg := func(name string) *cephconf.Config {
		return &cephconf.Config{
			MonHost: "10.4.0.1:6789", User: "other", Key: csiOtherKey,
			Source: `ceph-csi (StorageClass "` + name + `", Secret "other-secret" in "other")`,
		}
	}
	for _, tt := range []findCase{
		{name: "the Helm chart's layout", objects: csi(), want: csiCfg},
		{name: "the default class first", objects: join(csi(), other("z-default", true)), want: otherCfg("z-default")},
		{name: "then by name", objects: join(csi(), other("a-block", false)), want: otherCfg("a-block")},
		{
			name: "beta default annotation",
			objects: join(csi(), []runtime.Object{func() runtime.Object {
				sc := other("z-beta", false)[0].(*storagev1.StorageClass)
				sc.Annotations = map[string]string{"storageclass.beta.kubernetes.io/is-default-class": "true"}
				return sc
			}()}, other("z-beta", false)[1:]),
			want: otherCfg("z-beta"),
		},
		{
			name:    "a broken class gives way to the next",
			objects: join(csi(), other("a-block", true)[:1]),
			want:    csiCfg,
		},
		{
			name:    "provisioner secret forbidden: the node-stage secret",
			objects: csi(),
			react:   []func(*fake.Clientset){forbidden("get", "secrets", "csi-rbd-secret")},
			want:    nodeCfg,
		},
		{
			name: "no provisioner secret parameter: node-stage",
			objects: append(csi()[1:],
				storageClass("ceph-block", "rbd.csi.ceph.com", false, csiParams("c1", "ceph-csi", "", "csi-rbd-node"))),
			want: nodeCfg,
		},
		{
			name: "only controller-expand",
			objects: append(csi()[1:], storageClass("ceph-block", "rbd.csi.ceph.com", false, map[string]string{
				"clusterID": "c1",
				"csi.storage.k8s.io/controller-expand-secret-name":      "csi-rbd-secret",
				"csi.storage.k8s.io/controller-expand-secret-namespace": "ceph-csi",
			})),
			want: csiCfg,
		},
		{
			name: "ceph-csi before 3.0: adminID and adminKey",
			objects: append(without(csi(), "Secret", "csi-rbd-secret"),
				secret("ceph-csi", "csi-rbd-secret", map[string]string{"adminID": "admin", "adminKey": csiKey})),
			want: &cephconf.Config{MonHost: csiCfg.MonHost, User: "admin", Key: csiKey, Source: csiCfg.Source},
		},
		{
			name: "config in another namespace",
			objects: append(without(csi(), "ConfigMap", "ceph-csi-config"),
				configMap("kube-system", "ceph-csi-config", map[string]string{"config.json": `[{"clusterID":"c1","monitors":["10.5.0.1:6789"]}]`}),
				configMap("kube-system", "unrelated", map[string]string{"config.json": `[{"clusterID":"c1","monitors":["10.6.6.6:6789"]}]`})),
			want: &cephconf.Config{MonHost: "10.5.0.1:6789", User: "csi-rbd", Key: csiKey, Source: csiCfg.Source},
		},
		{
			name: "config in the secret's namespace lacks the cluster: another namespace",
			objects: append(csi(),
				configMap("a", "ceph-csi-config", map[string]string{"config.json": `[{"clusterID":"c1","monitors":["10.5.0.1:6789"]}]`})),
			react: []func(*fake.Clientset){func(cs *fake.Clientset) {
				// The secret's namespace knows only c0.
				_, _ = cs.CoreV1().ConfigMaps("ceph-csi").Update(context.Background(), configMap("ceph-csi", "ceph-csi-config",
					map[string]string{"config.json": `[{"clusterID":"c0","monitors":["10.9.0.1:6789"]}]`}), metav1.UpdateOptions{})
			}},
			want: &cephconf.Config{MonHost: "10.5.0.1:6789", User: "csi-rbd", Key: csiKey, Source: csiCfg.Source},
		},
		{
			name: "Rook's own ceph-csi",
			objects: []runtime.Object{
				storageClass("rook-ceph-block", "rook-ceph.rbd.csi.ceph.com", true, csiParams("rook-ceph", "rook-ceph", "rook-csi-rbd-provisioner", "rook-csi-rbd-node")),
				secret("rook-ceph", "rook-csi-rbd-provisioner", map[string]string{"userID": "csi-rbd-provisioner", "userKey": csiKey}),
				configMap("rook-ceph", "rook-ceph-csi-config", map[string]string{
					"csi-cluster-config-json": `[{"clusterID":"rook-ceph","monitors":["10.1.0.1:6789"],"namespace":"rook-ceph"}]`,
				}),
			},
			want: &cephconf.Config{
				MonHost: "10.1.0.1:6789", User: "csi-rbd-provisioner", Key: csiKey,
				Source: `ceph-csi (StorageClass "rook-ceph-block", Secret "rook-csi-rbd-provisioner" in "rook-ceph")`,
			},
		},
		{
			name:    "ceph-csi wins over /etc/ceph",
			objects: csi(),
			etc:     map[string]string{"ceph.conf": etcConf, "ceph.client.admin.keyring": "[client.admin]\nkey = " + etcKey + "\n"},
			want:    csiCfg,
		},

		// ceph-csi does not apply.
		{
			name:    "StorageClasses forbidden",
			objects: csi(),
			react:   []func(*fake.Clientset){forbidden("list", "storageclasses", "")},
			code:    connect.CodeFailedPrecondition,
			errHas:  []string{"; ceph-csi: not allowed to list StorageClasses; "},
		},
		{
			name:    "only CephFS",
			objects: csi()[1:2],
			code:    connect.CodeFailedPrecondition,
			errHas:  []string{"; ceph-csi: no StorageClass with an rbd.csi.ceph.com provisioner; "},
		},
		{
			name:    "no secret readable, every class says why",
			objects: join(csi()[:2], other("z-block", false)[:1]),
			react:   []func(*fake.Clientset){forbidden("get", "secrets", "csi-rbd-node")},
			code:    connect.CodeFailedPrecondition,
			errHas: []string{`; ceph-csi: StorageClass "ceph-block": no Secret "csi-rbd-secret" in namespace "ceph-csi", ` +
				`not allowed to read Secret "csi-rbd-node" in namespace "ceph-csi", ` +
				`StorageClass "z-block": no Secret "other-secret" in namespace "other"; `},
		},
		{
			name: "no clusterID, no secret parameters, templated secret",
			objects: []runtime.Object{
				storageClass("a", "rbd.csi.ceph.com", false, map[string]string{"pool": "rbd"}),
				storageClass("b", "rbd.csi.ceph.com", false, map[string]string{"clusterID": "c1"}),
				storageClass("c", "rbd.csi.ceph.com", false, map[string]string{
					"clusterID": "c1",
					"csi.storage.k8s.io/node-stage-secret-name":      "${pvc.name}",
					"csi.storage.k8s.io/node-stage-secret-namespace": "${pvc.namespace}",
				}),
				storageClass("d", "rbd.csi.ceph.com", false, map[string]string{
					"clusterID": "c1", "csi.storage.k8s.io/provisioner-secret-name": "s",
				}),
			},
			code: connect.CodeFailedPrecondition,
			errHas: []string{`; ceph-csi: StorageClass "a": no clusterID parameter, ` +
				`StorageClass "b": no csi.storage.k8s.io/provisioner-secret-name or node-stage-secret-name parameter, ` +
				`StorageClass "c": the node-stage secret is a template (${pvc.namespace}/${pvc.name}), ` +
				`StorageClass "d": Secret "s" has no namespace (provisioner-secret-namespace); `},
		},
		{
			name: "secret without userKey or with a bad one",
			objects: append(without(without(csi(), "Secret", "csi-rbd-secret"), "Secret", "csi-rbd-node"),
				secret("ceph-csi", "csi-rbd-secret", map[string]string{"userID": "csi-rbd"}),
				secret("ceph-csi", "csi-rbd-node", map[string]string{"userID": "csi-node", "userKey": badKey})),
			code: connect.CodeFailedPrecondition,
			errHas: []string{`Secret "csi-rbd-secret" in "ceph-csi" has userID but no userKey, ` +
				`Secret "csi-rbd-node" in "ceph-csi" key "userKey": the key is not valid base64; `},
		},
		{
			name:    "no config anywhere",
			objects: without(csi(), "ConfigMap", "ceph-csi-config"),
			code:    connect.CodeFailedPrecondition,
			errHas: []string{`; ceph-csi: StorageClass "ceph-block": no monitors for clusterID "c1": no ConfigMap "ceph-csi-config" in namespace "ceph-csi", ` +
				`no ConfigMap "ceph-csi-config" in other namespaces; `},
		},
		{
			name:    "config forbidden here and listing forbidden",
			objects: csi(),
			react: []func(*fake.Clientset){
				forbidden("get", "configmaps", "ceph-csi-config"), forbidden("list", "configmaps", ""),
			},
			code: connect.CodeFailedPrecondition,
			errHas: []string{`; ceph-csi: StorageClass "ceph-block": no monitors for clusterID "c1": not allowed to read ConfigMap "ceph-csi-config" in namespace "ceph-csi", ` +
				`not allowed to list ConfigMaps "ceph-csi-config" in all namespaces; `},
		},
		{
			name: "config without the cluster, or broken",
			objects: append(without(csi(), "ConfigMap", "ceph-csi-config"),
				configMap("ceph-csi", "ceph-csi-config", map[string]string{"config.json": `[{"clusterID":"c0","monitors":["10.9.0.1:6789"]}]`}),
				configMap("x", "ceph-csi-config", map[string]string{"config.json": `{"clusterID":"c1"}`}),
				configMap("y", "ceph-csi-config", map[string]string{"config.json": `[{"clusterID":"c1","monitors":[]}]`}),
				configMap("z", "ceph-csi-config", map[string]string{"other": ""})),
			code: connect.CodeFailedPrecondition,
			errHas: []string{
				`no monitors for clusterID "c1": ConfigMap "ceph-csi-config" in "ceph-csi" has no entry for the cluster, `,
				`ConfigMap "ceph-csi-config" in "x": config.json is not a JSON list of clusters: json: cannot unmarshal object`,
				`ConfigMap "ceph-csi-config" in "y" lists no monitors for the cluster, ConfigMap "ceph-csi-config" in "z" has no config.json; `,
			},
		},
		{
			name:    "listing ConfigMaps fails",
			objects: without(csi(), "ConfigMap", "ceph-csi-config"),
			react:   []func(*fake.Clientset){reactor("list", "configmaps", "", apierrors.NewServiceUnavailable("etcd"))},
			code:    connect.CodeUnavailable,
			errHas:  []string{`find Ceph for scope "prod": list ConfigMaps "ceph-csi-config" in all namespaces: `},
		},
		{
			name:    "listing StorageClasses fails",
			objects: csi(),
			react:   []func(*fake.Clientset){reactor("list", "storageclasses", "", refused)},
			code:    connect.CodeUnavailable,
			errHas:  []string{`find Ceph for scope "prod": list StorageClasses: `},
		},
	} {
		t.Run(tt.name, func(t *testing.T) { runFind(t, tt) })
	}
}

func TestFindEtcCeph(t *testing.T) {
	adminRing := "[client.admin]\n\tkey = " + etcKey + "\n"
	etcCfg := func(user, key string) *cephconf.Config {
		return &cephconf.Config{MonHost: "10.3.0.1:6789,10.3.0.2:6789", User: user, Key: key, ConfFile: "$DIR/etc/ceph.conf", Source: "$DIR/etc/ceph.conf"}
	}
	for _, tt := range []findCase{
		{name: "conf and admin keyring", etc: map[string]string{"ceph.conf": etcConf, "ceph.client.admin.keyring": adminRing}, want: etcCfg("admin", etcKey)},
		{name: "without a kubeconfig", noClients: true, etc: map[string]string{"ceph.conf": etcConf, "ceph.client.admin.keyring": adminRing}, want: etcCfg("admin", etcKey)},
		{name: "ceph.keyring's only user", etc: map[string]string{"ceph.conf": etcConf, "ceph.keyring": "[client.rbd]\nkey = " + etcKey + "\n"}, want: etcCfg("rbd", etcKey)},
		{name: "keyring", etc: map[string]string{"ceph.conf": etcConf, "keyring": adminRing}, want: etcCfg("admin", etcKey)},
		{name: "one client's keyring", etc: map[string]string{"ceph.conf": etcConf, "ceph.client.rbd.keyring": "[client.rbd]\nkey = " + etcKey + "\n"}, want: etcCfg("rbd", etcKey)},
		{
			name: "admin's keyring first",
			etc: map[string]string{
				"ceph.conf": etcConf, "ceph.client.admin.keyring": adminRing,
				"ceph.keyring": "[client.rbd]\nkey = " + otherKey + "\n",
			},
			want: etcCfg("admin", etcKey),
		},
		{
			name:  "the conf's keyring setting",
			files: map[string]string{"secrets/ceph.client.admin.keyring": adminRing},
			etc:   map[string]string{"ceph.conf": etcConf + "[client]\nkeyring = /nope/keyring,$DIR/secrets/$cluster.$name.keyring\n"},
			want:  etcCfg("admin", etcKey),
		},
		{
			name:   "no conf",
			etc:    map[string]string{"ceph.client.admin.keyring": adminRing},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"; $DIR/etc: no $DIR/etc/ceph.conf"},
		},
		{
			name: "no keyring",
			etc:  map[string]string{"ceph.conf": etcConf},
			code: connect.CodeFailedPrecondition,
			errHas: []string{"; $DIR/etc: no keyring for client.admin: none of $DIR/etc/ceph.client.admin.keyring, " +
				"$DIR/etc/ceph.keyring, $DIR/etc/keyring exists"},
		},
		{
			name:   "no mon_host",
			etc:    map[string]string{"ceph.conf": "[global]\nfsid = 1\n", "keyring": adminRing},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"; $DIR/etc: $DIR/etc/ceph.conf has no mon_host"},
		},
		{
			name:   "a keyring with a bad key",
			etc:    map[string]string{"ceph.conf": etcConf, "keyring": "[client.admin]\nkey = " + badKey + "\n"},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"; $DIR/etc: keyring $DIR/etc/keyring: the key of client.admin: the key is not valid base64"},
		},
		{
			name:   "a broken conf",
			etc:    map[string]string{"ceph.conf": "mon host\n"},
			code:   connect.CodeFailedPrecondition,
			errHas: []string{"; $DIR/etc: $DIR/etc/ceph.conf: line 1: not a section, a comment or key = value"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) { runFind(t, tt) })
	}
}

// TestFindNothing checks the whole message a user sees when no source
// applies.
func TestFindNothing(t *testing.T) {
	for _, tt := range []findCase{
		{
			name: "empty cluster",
			code: connect.CodeFailedPrecondition,
			errHas: []string{`find Ceph for scope "prod": no source applies: ` + allFlags +
				`; Rook: no Secret "rook-ceph-mon" in namespace "rook-ceph"` +
				`; ceph-csi: no StorageClass with an rbd.csi.ceph.com provisioner` +
				`; $DIR/etc: no $DIR/etc/ceph.conf`},
		},
		{
			name:      "no kubeconfig",
			noClients: true,
			code:      connect.CodeFailedPrecondition,
			errHas: []string{`find Ceph: no source applies: ` + allFlags +
				`; Rook: not tried: no usable kubeconfig; ceph-csi: not tried: no usable kubeconfig` +
				`; $DIR/etc: no $DIR/etc/ceph.conf`},
		},
		{
			name:    "a ceph-csi user in a Rook cluster, with every key in reach of the test",
			flags:   cephconf.Flags{RookNamespace: "storage", Timeout: time.Second},
			objects: join(rook("storage"), csi()),
			react: []func(*fake.Clientset){
				forbidden("get", "secrets", ""), forbidden("get", "configmaps", ""), forbidden("list", "configmaps", ""),
			},
			etc:  map[string]string{"ceph.conf": etcConf, "ceph.client.admin.keyring": "[client.admin]\nkey = " + badKey + "\n"},
			code: connect.CodeFailedPrecondition,
			errHas: []string{`find Ceph for scope "prod": no source applies: ` + allFlags +
				`; Rook: not allowed to read Secret "rook-ceph-mon" in namespace "storage"` +
				`; ceph-csi: StorageClass "ceph-block": not allowed to read Secret "csi-rbd-secret" in namespace "ceph-csi", ` +
				`not allowed to read Secret "csi-rbd-node" in namespace "ceph-csi"` +
				`; $DIR/etc: keyring $DIR/etc/ceph.client.admin.keyring: the key of client.admin: the key is not valid base64`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) { runFind(t, tt) })
	}
}
