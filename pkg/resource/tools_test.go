package resource_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// buf curl and grpcurl, which read the schema from reflection, call the
// new services as the README shows: the edition 2023 descriptors and
// upstream's method option must reach them intact.
func TestReflectionClients(t *testing.T) {
	f := setup(t)
	buf, grpcurl := testenv.Tool(t, "OTTERSCALE_BUF", "buf"), testenv.Tool(t, "OTTERSCALE_GRPCURL", "grpcurl")
	f.createDataVolume(t, "by-tool")
	host := strings.TrimPrefix(f.url, "http://")
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), name, args...)
		// buf keeps a cache; keep it out of the user's home.
		cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run(grpcurl, "-plaintext", host, "describe", "otterscale.resource.v1.ResourceService"); !strings.Contains(out, "rpc Watch") ||
		!strings.Contains(out, "resource-enabled") {
		t.Errorf("grpcurl describe:\n%s", out)
	}
	list := `{"group":"cdi.kubevirt.io","version":"v1beta1","resource":"datavolumes","namespace":"` + f.ns + `"}`
	if out := run(buf, "curl", "--http2-prior-knowledge", "--protocol", "connect", "-d", list,
		f.url+"/otterscale.resource.v1.ResourceService/List"); !strings.Contains(out, `"by-tool"`) {
		t.Errorf("buf curl List:\n%s", out)
	}
	if out := run(buf, "curl", "--http2-prior-knowledge", "--protocol", "connect",
		f.url+"/otterscale.link.v1.LinkService/ListLinks"); !strings.Contains(out, `"cluster": "admin"`) {
		t.Errorf("buf curl ListLinks:\n%s", out)
	}
	if out := run(grpcurl, "-plaintext", "-d", list, host, "otterscale.resource.v1.ResourceService/List"); !strings.Contains(out, `"by-tool"`) {
		t.Errorf("grpcurl List:\n%s", out)
	}
}
