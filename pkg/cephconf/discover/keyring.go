package discover

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// This file reads Ceph's own files, ceph.conf and keyrings, the way librados
// does, so that a key can be handed to go-ceph as an option. Nothing here
// may put a key, or a line that might hold one, into an error.

// keyring is a Ceph keyring file: entities ("client.admin") and their keys,
// in file order.
type keyring []keyringEntry

type keyringEntry struct {
	entity string
	key    string
}

// parseKeyring reads the text format that `ceph auth get` writes:
//
//	[client.admin]
//		key = AQ...==
//		caps mon = "allow *"
func parseKeyring(r io.Reader) (keyring, error) {
	sections, err := parseINI(r)
	if err != nil {
		return nil, err
	}
	var k keyring
	for _, s := range sections {
		if s.name == "" {
			if len(s.values) > 0 {
				return nil, errors.New("settings before the first [entity] section")
			}
			continue
		}
		k = append(k, keyringEntry{entity: s.name, key: s.values["key"]})
	}
	return k, nil
}

// readKeyring reads and parses the keyring at path.
func readKeyring(path string) (keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	k, err := parseKeyring(f)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	return k, nil
}

// clients are the keyring's client entities, without "client.".
func (k keyring) clients() []string {
	var users []string
	for _, e := range k {
		if u, ok := strings.CutPrefix(e.entity, "client."); ok {
			users = append(users, u)
		}
	}
	return users
}

// pick returns the user and key to use: user's when it is given, otherwise
// the only client in the keyring, otherwise client.admin's.
func (k keyring) pick(user string) (string, string, error) {
	if user == "" {
		switch users := k.clients(); {
		case len(users) == 1:
			user = users[0]
		case len(users) == 0:
			return "", "", errors.New("it has no client key")
		default:
			user = "admin"
			if !k.has(user) {
				return "", "", fmt.Errorf("it has several users and none is admin (%s): say which with --ceph-user",
					"client."+strings.Join(users, ", client."))
			}
		}
	}
	for _, e := range k {
		if e.entity != "client."+user {
			continue
		}
		if e.key == "" {
			return "", "", fmt.Errorf("its section [client.%s] has no key", user)
		}
		if err := checkKey(e.key); err != nil {
			return "", "", fmt.Errorf("the key of client.%s: %w", user, err)
		}
		return user, e.key, nil
	}
	if users := k.clients(); len(users) > 0 {
		return "", "", fmt.Errorf("it has no key for client.%s, only for client.%s", user, strings.Join(users, ", client."))
	}
	return "", "", fmt.Errorf("it has no key for client.%s", user)
}

func (k keyring) has(user string) bool {
	for _, e := range k {
		if e.entity == "client."+user {
			return true
		}
	}
	return false
}

// checkKey checks that key is what librados accepts, base64, without ever
// quoting it: the decoder's own error would not quote it either, but its
// byte offset is of no use to anyone.
func checkKey(key string) error {
	if key == "" {
		return errors.New("the key is empty")
	}
	if _, err := base64.StdEncoding.DecodeString(key); err != nil {
		return errors.New("the key is not valid base64")
	}
	return nil
}

// trimUser turns "client.admin" into "admin"; Ceph's tools take either.
func trimUser(user string) string {
	return strings.TrimPrefix(strings.TrimSpace(user), "client.")
}

// cephConf is a parsed ceph.conf.
type cephConf struct {
	path     string
	sections []iniSection
}

// readConf reads and parses the ceph.conf at path.
func readConf(path string) (*cephConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sections, err := parseINI(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &cephConf{path: path, sections: sections}, nil
}

// get returns option as client.user sees it: its own section first, then
// [client], then [global], as librados reads them.
func (c *cephConf) get(user, option string) string {
	option = confKey(option)
	for _, name := range []string{"client." + user, "client", "global"} {
		for _, s := range c.sections {
			if s.name == name {
				if v, ok := s.values[option]; ok {
					return v
				}
			}
		}
	}
	return ""
}

// monHost is mon_host, or else the old-style `mon addr` of each [mon.X]
// section.
func (c *cephConf) monHost(user string) string {
	if v := c.get(user, "mon_host"); v != "" {
		return v
	}
	var addrs []string
	for _, s := range c.sections {
		if strings.HasPrefix(s.name, "mon.") {
			if v := s.values["mon_addr"]; v != "" {
				addrs = append(addrs, v)
			}
		}
	}
	return strings.Join(addrs, ",")
}

// cluster is the cluster name that librados derives $cluster from: the
// file name without ".conf", "ceph" for /etc/ceph/ceph.conf.
func (c *cephConf) cluster() string {
	if name, ok := strings.CutSuffix(filepath.Base(c.path), ".conf"); ok && name != "" {
		return name
	}
	return "ceph"
}

// expand replaces the metavariables that keyring and keyfile settings use.
func (c *cephConf) expand(s, user string) string {
	return os.Expand(s, func(v string) string {
		switch v {
		case "cluster":
			return c.cluster()
		case "type":
			return "client"
		case "id":
			return user
		case "name":
			return "client." + user
		}
		return "$" + v
	})
}

// keyringPaths are the files, in order, where librados looks for client.user's
// keyring: the conf's keyring setting (a list), or else Ceph's default list,
// looked up next to the conf and then in /etc/ceph. When no user was asked
// for, a directory's only $cluster.client.*.keyring counts too.
func (c *cephConf) keyringPaths(user string, userGiven bool) []string {
	var paths []string
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	if v := c.get(user, "keyring"); v != "" {
		for _, p := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(",; \t", r) }) {
			add(c.expand(p, user))
		}
		return paths
	}
	cl := c.cluster()
	for _, dir := range []string{filepath.Dir(c.path), etcCeph} {
		add(filepath.Join(dir, cl+".client."+user+".keyring"))
		add(filepath.Join(dir, cl+".keyring"))
		add(filepath.Join(dir, "keyring"))
		if !userGiven {
			if m, _ := filepath.Glob(filepath.Join(dir, cl+".client.*.keyring")); len(m) == 1 {
				add(m[0])
			}
		}
	}
	return paths
}

// iniSection is one [name] of an INI file; values are keyed by confKey.
type iniSection struct {
	name   string
	values map[string]string
}

// parseINI reads the INI dialect of ceph.conf and keyrings: `#` and `;`
// comments (also after a value), keys whose spaces, dashes and underscores
// are interchangeable, quoted values, and lines continued with a backslash.
// Errors name the line by number only: the line might hold a key.
func parseINI(r io.Reader) ([]iniSection, error) {
	sections := []iniSection{{values: map[string]string{}}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		for strings.HasSuffix(line, `\`) && sc.Scan() {
			n++
			line = strings.TrimSuffix(line, `\`) + sc.Text()
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, fmt.Errorf("line %d: a section header without \"]\"", n)
			}
			name := strings.TrimSpace(line[1:end])
			if name == "" {
				return nil, fmt.Errorf("line %d: an empty section name", n)
			}
			sections = append(sections, iniSection{name: name, values: map[string]string{}})
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = confKey(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("line %d: not a section, a comment or key = value", n)
		}
		value, err := iniValue(value)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		sections[len(sections)-1].values[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return sections, nil
}

func iniValue(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v != "" && (v[0] == '"' || v[0] == '\'') {
		end := strings.IndexByte(v[1:], v[0])
		if end < 0 {
			return "", errors.New("a quoted value without its closing quote")
		}
		return v[1 : end+1], nil
	}
	if i := strings.IndexAny(v, "#;"); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v), nil
}

// confKey normalizes an option name: Ceph reads `mon host`, `mon_host` and
// `mon-host` alike.
func confKey(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	k = strings.NewReplacer(" ", "_", "-", "_", "\t", "_").Replace(k)
	for strings.Contains(k, "__") {
		k = strings.ReplaceAll(k, "__", "_")
	}
	return k
}
