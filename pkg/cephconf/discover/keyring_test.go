package discover

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// cephKey makes a base64 key that a test can recognise in any text, sized
// as Ceph's own (28 bytes).
func cephKey(tag string) string {
	b := []byte(tag + strings.Repeat("-", 28))[:28]
	return base64.StdEncoding.EncodeToString(b)
}

func TestParseKeyring(t *testing.T) {
	admin, csi := cephKey("admin"), cephKey("csi")
	for _, tt := range []struct {
		name    string
		text    string
		want    keyring
		wantErr string
	}{
		{
			name: "ceph auth get output",
			text: "[client.admin]\n\tkey = " + admin + "\n\tcaps mds = \"allow *\"\n\tcaps mon = \"allow *\"\n",
			want: keyring{{"client.admin", admin}},
		},
		{
			name: "several entities, comments, no indentation",
			text: "# made by hand\n[mon.]\nkey=" + csi + "\n; another\n[client.admin]\nkey = " + admin + " # trailing\n",
			want: keyring{{"mon.", csi}, {"client.admin", admin}},
		},
		{
			name: "quoted key",
			text: "[client.csi]\n    key = \"" + csi + "\"\n",
			want: keyring{{"client.csi", csi}},
		},
		{name: "empty", text: "", want: nil},
		{name: "no section", text: "key = " + admin + "\n", wantErr: "before the first [entity]"},
		{name: "broken header", text: "[client.admin\nkey = " + admin + "\n", wantErr: "line 1: a section header"},
		{name: "not key = value", text: "[client.admin]\nkey " + csi[:20] + "\n", wantErr: "line 2: not a section"},
		{name: "unclosed quote", text: "[client.admin]\nkey = \"" + admin + "\n", wantErr: "line 2: a quoted value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKeyring(strings.NewReader(tt.text))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				for _, k := range []string{admin, csi} {
					if strings.Contains(err.Error(), k) {
						t.Errorf("error %q shows a key", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeyringPick(t *testing.T) {
	admin, csi, foo := cephKey("admin"), cephKey("csi"), cephKey("foo")
	only := keyring{{"client.csi", csi}}
	two := keyring{{"mon.", foo}, {"client.csi", csi}, {"client.admin", admin}}
	noAdmin := keyring{{"client.csi", csi}, {"client.foo", foo}}
	for _, tt := range []struct {
		name     string
		k        keyring
		user     string
		wantUser string
		wantKey  string
		wantErr  string
	}{
		{"the only client", only, "", "csi", csi, ""},
		{"the only client, mon. aside", keyring{{"mon.", foo}, {"client.csi", csi}}, "", "csi", csi, ""},
		{"admin among several", two, "", "admin", admin, ""},
		{"the user asked for", two, "csi", "csi", csi, ""},
		{"several, none admin", noAdmin, "", "", "", "several users and none is admin (client.csi, client.foo): say which with --ceph-user"},
		{"user missing", only, "admin", "", "", "no key for client.admin, only for client.csi"},
		{"no clients", keyring{{"mon.", foo}}, "", "", "", "no client key"},
		{"empty key", keyring{{"client.admin", ""}}, "", "", "", "[client.admin] has no key"},
		{"bad key", keyring{{"client.admin", "not base64!" + admin}}, "", "", "", "the key of client.admin: the key is not valid base64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			user, key, err := tt.k.pick(tt.user)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				for _, k := range []string{admin, csi, foo} {
					if strings.Contains(err.Error(), k) {
						t.Errorf("error %q shows a key", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if user != tt.wantUser || key != tt.wantKey {
				t.Errorf("got %s with key %s, want %s with %s", user, key, tt.wantUser, tt.wantKey)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	for key, ok := range map[string]bool{
		cephKey("x"):         true,
		"":                   false,
		"AQ==":               true,
		"AQ=":                false,
		"not*base64*SECRET1": false,
	} {
		err := checkKey(key)
		if (err == nil) != ok {
			t.Errorf("checkKey(%q) = %v, want ok %v", key, err, ok)
		}
		if err != nil && key != "" && strings.Contains(err.Error(), key) {
			t.Errorf("error %q shows the key", err)
		}
	}
}

func TestTrimUser(t *testing.T) {
	for _, tt := range [][2]string{{"admin", "admin"}, {"client.csi", "csi"}, {" client.x\n", "x"}, {"", ""}} {
		if got := trimUser(tt[0]); got != tt[1] {
			t.Errorf("trimUser(%q) = %q, want %q", tt[0], got, tt[1])
		}
	}
}

func TestConfGet(t *testing.T) {
	text := `
; a conf in every style Ceph accepts
[global]
fsid = 0a1b
mon host = [v2:10.0.0.1:3300,v1:10.0.0.1:6789] ; the monitors
auth-cluster-required = cephx
keyring = /global/keyring

[client]
	keyring = "/client/keyring"

[client.csi]
	mon_host = 10.0.0.9:6789
	Keyring = /csi/$cluster.$name.keyring
	log file = /var/log/ceph/$name.log   # the # starts a comment
long = a\
b
`
	sections, err := parseINI(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	c := &cephConf{path: "/etc/ceph/ceph.conf", sections: sections}
	for _, tt := range []struct{ user, option, want string }{
		{"admin", "mon_host", "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"},
		{"admin", "mon host", "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"},
		{"admin", "mon-host", "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"},
		{"csi", "mon_host", "10.0.0.9:6789"},
		{"admin", "keyring", "/client/keyring"},
		{"csi", "keyring", "/csi/$cluster.$name.keyring"},
		{"admin", "auth_cluster_required", "cephx"},
		{"csi", "log_file", "/var/log/ceph/$name.log"},
		{"csi", "long", "ab"},
		{"admin", "key", ""},
	} {
		if got := c.get(tt.user, tt.option); got != tt.want {
			t.Errorf("get(%q, %q) = %q, want %q", tt.user, tt.option, got, tt.want)
		}
	}
	if got, want := c.keyringPaths("csi", true), []string{"/csi/ceph.client.csi.keyring"}; !reflect.DeepEqual(got, want) {
		t.Errorf("keyring paths %q, want %q", got, want)
	}
}

func TestConfMonAddr(t *testing.T) {
	sections, err := parseINI(strings.NewReader("[mon.a]\nmon addr = 10.0.0.1:6789\n[mon.b]\nmon_addr = 10.0.0.2:6789\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cephConf{path: "x/ceph.conf", sections: sections}
	if got, want := c.monHost("admin"), "10.0.0.1:6789,10.0.0.2:6789"; got != want {
		t.Errorf("monHost %q, want %q", got, want)
	}
}

func TestConfKeyringPaths(t *testing.T) {
	old := etcCeph
	t.Cleanup(func() { etcCeph = old })
	dir := t.TempDir()
	etcCeph = filepath.Join(dir, "etc")
	conf := filepath.Join(dir, "conf")
	for _, d := range []string{etcCeph, conf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(conf, "prod.client.foo.keyring"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cephConf{path: filepath.Join(conf, "prod.conf")}
	want := []string{
		filepath.Join(conf, "prod.client.admin.keyring"),
		filepath.Join(conf, "prod.keyring"),
		filepath.Join(conf, "keyring"),
		filepath.Join(conf, "prod.client.foo.keyring"),
		filepath.Join(etcCeph, "prod.client.admin.keyring"),
		filepath.Join(etcCeph, "prod.keyring"),
		filepath.Join(etcCeph, "keyring"),
	}
	if got := c.keyringPaths("admin", false); !reflect.DeepEqual(got, want) {
		t.Errorf("keyring paths\n%q, want\n%q", got, want)
	}
	// A user asked for by name never picks up another's keyring.
	want = append(want[:3:3], want[4:]...)
	if got := c.keyringPaths("admin", true); !reflect.DeepEqual(got, want) {
		t.Errorf("keyring paths with a user\n%q, want\n%q", got, want)
	}

	sections, err := parseINI(strings.NewReader("[global]\nkeyring = /a/$cluster.keyring, /b/${name}.keyring,/c/$id $type/$host ; a comment, as Ceph reads it\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.sections = sections
	want = []string{"/a/prod.keyring", "/b/client.csi.keyring", "/c/csi", "client/$host"}
	if got := c.keyringPaths("csi", true); !reflect.DeepEqual(got, want) {
		t.Errorf("keyring paths from the setting %q, want %q", got, want)
	}
}
