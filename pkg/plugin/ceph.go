package plugin

import (
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/otterscale/kubectl-otterscale/pkg/cephconf"
)

// findingCeph is the help text of every command that talks to Ceph.
const findingCeph = `Where Ceph is found, first that applies:

  1. the --ceph-* flags, or else their environment variables
     (OTTERSCALE_CEPH_CONF, OTTERSCALE_CEPH_KEYRING, OTTERSCALE_CEPH_USER,
     OTTERSCALE_CEPH_MON_HOST, OTTERSCALE_CEPH_KEY_FILE; Ceph's own CEPH_CONF is
     not read, so that a Ceph admin host's setting never overrides the cluster's);
  2. Rook in the cluster, in namespace rook-ceph (or --rook-namespace): the Secret
     rook-ceph-mon (or rook-ceph-admin-keyring) for the key, the ConfigMap
     rook-ceph-mon-endpoints (or the Secret rook-ceph-config) for the monitors;
  3. ceph-csi in the cluster: the RBD StorageClasses' clusterID, the monitors that the
     ConfigMap ceph-csi-config lists for it, and the user and key in the secret that
     the StorageClass names;
  4. this machine's /etc/ceph/ceph.conf and keyring.

When none applies, the error says what each lacked. Keys are never printed.`

// CephFlags are the settings that say where Ceph is, for every command that
// talks to it (snapshot, image, and the proxy).
type CephFlags struct {
	Conf          string
	Keyring       string
	User          string
	MonHost       string
	KeyFile       string
	RookNamespace string
	Timeout       time.Duration
}

// NewCephFlags returns the flags with their defaults.
func NewCephFlags() *CephFlags {
	return &CephFlags{RookNamespace: cephconf.DefaultRookNamespace, Timeout: cephconf.DefaultTimeout}
}

// AddFlags adds the --ceph-* flags and --rook-namespace to fs, typically a
// group command's persistent flags.
func (c *CephFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Conf, "ceph-conf", c.Conf, "ceph.conf to read mon_host and the keyring from (default $OTTERSCALE_CEPH_CONF)")
	fs.StringVar(&c.Keyring, "ceph-keyring", c.Keyring, "Keyring file holding the Ceph user's key (default $OTTERSCALE_CEPH_KEYRING)")
	fs.StringVar(&c.User, "ceph-user", c.User, "Ceph user, e.g. admin or csi-rbd-node (default $OTTERSCALE_CEPH_USER, else admin)")
	fs.StringVar(&c.MonHost, "ceph-mon-host", c.MonHost, "Ceph monitors, e.g. 10.0.0.1:6789,10.0.0.2:6789 (default $OTTERSCALE_CEPH_MON_HOST)")
	fs.StringVar(&c.KeyFile, "ceph-key-file", c.KeyFile, "File holding the bare base64 key, as ceph-csi's userKey (default $OTTERSCALE_CEPH_KEY_FILE)")
	fs.StringVar(&c.RookNamespace, "rook-namespace", c.RookNamespace, "Namespace of Rook's objects")
	fs.DurationVar(&c.Timeout, "ceph-timeout", c.Timeout, "Bound on connecting to Ceph and on each operation")
}

// Validate checks the flags' own values; whether they add up to a
// connection is the storage service's to say.
func (c *CephFlags) Validate() error {
	if c.Timeout <= 0 {
		return usageErrorf("--ceph-timeout: must be positive, got %s", c.Timeout)
	}
	return nil
}

// getenv reads the environment; tests replace it.
var getenv = os.Getenv

// Storage is the flags as the storage service takes them, with the
// environment filling what no flag gave. The environment is read here, when
// a command runs, never when flags are defined.
func (c *CephFlags) Storage() cephconf.Flags {
	return cephconf.Flags{
		Conf:          orEnv(c.Conf, "OTTERSCALE_CEPH_CONF"),
		Keyring:       orEnv(c.Keyring, "OTTERSCALE_CEPH_KEYRING"),
		User:          orEnv(c.User, "OTTERSCALE_CEPH_USER"),
		MonHost:       orEnv(c.MonHost, "OTTERSCALE_CEPH_MON_HOST"),
		KeyFile:       orEnv(c.KeyFile, "OTTERSCALE_CEPH_KEY_FILE"),
		RookNamespace: c.RookNamespace,
		Timeout:       c.Timeout,
	}
}

// orEnv is value, or else the first of the variables that is set.
func orEnv(value string, vars ...string) string {
	for _, v := range vars {
		if value != "" {
			break
		}
		value = getenv(v)
	}
	return value
}
