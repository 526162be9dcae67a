package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const tag = "v1.2.3"

var allArchives = []string{
	"kubectl-otterscale_v1.2.3_linux_amd64.tar.gz",
	"kubectl-otterscale_v1.2.3_linux_arm64.tar.gz",
	"kubectl-otterscale_v1.2.3_darwin_amd64.tar.gz",
	"kubectl-otterscale_v1.2.3_darwin_arm64.tar.gz",
	"kubectl-otterscale_v1.2.3_windows_amd64.zip",
	"kubectl-otterscale_v1.2.3_windows_arm64.zip",
}

// dist makes a dist directory holding these archives, each with its own
// bytes (the renderer hashes files; what is inside them is test/krew's).
func dist(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("archive "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func opts(dir string) options {
	return options{Tag: tag, Dist: dir, Template: ".krew.yaml", ReleaseURL: releaseDownload + tag + "/"}
}

func krewYAML(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "..", ".krew.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

type manifest struct {
	Spec struct {
		Version   string `json:"version"`
		Caveats   string `json:"caveats"`
		Platforms []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
			Files  []struct {
				From string `json:"from"`
			} `json:"files"`
		} `json:"platforms"`
	} `json:"spec"`
}

// The repository's .krew.yaml, rendered as the bot renders it, names every
// archive at its release URL with the sha256 of the file, and
// otterscale-ceph only on linux/amd64.
func TestRenderKrewYAML(t *testing.T) {
	dir := dist(t, allArchives...)
	r, err := render(opts(dir), krewYAML(t))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(r.Manifest, &m); err != nil {
		t.Fatalf("%v\n%s", err, r.Manifest)
	}
	if m.Spec.Version != tag || r.Platforms != 6 || len(r.Missing) != 0 {
		t.Errorf("version %q, %d platforms, missing %v", m.Spec.Version, r.Platforms, r.Missing)
	}
	if !strings.Contains(m.Spec.Caveats, "/store/otterscale/"+tag+"/kubectl_complete-otterscale") {
		t.Errorf("caveats lack the tag's store path:\n%s", m.Spec.Caveats)
	}
	var got []string
	for _, p := range m.Spec.Platforms {
		want, _ := sha256File(filepath.Join(dir, filepath.Base(p.URI)))
		if p.SHA256 != want {
			t.Errorf("%s: sha256 %s, want %s", p.URI, p.SHA256, want)
		}
		var from []string
		for _, f := range p.Files {
			from = append(from, f.From)
		}
		key := p.Selector.MatchLabels["os"] + "/" + p.Selector.MatchLabels["arch"]
		if slices.Contains(from, "otterscale-ceph") != (key == "linux/amd64") {
			t.Errorf("%s: files %v", key, from)
		}
		got = append(got, strings.TrimPrefix(p.URI, releaseDownload))
	}
	var want []string
	for _, a := range allArchives {
		want = append(want, tag+"/"+a)
	}
	if !slices.Equal(got, want) {
		t.Errorf("URIs %v, want %v", got, want)
	}
}

// With -skip-missing, the platforms not built are left out and the rest of
// the document stays; without it, a missing archive fails as it would fail
// the bot.
func TestRenderSkipMissing(t *testing.T) {
	dir := dist(t, allArchives[0], allArchives[4])
	o := opts(dir)
	if _, err := render(o, krewYAML(t)); err == nil || !strings.Contains(err.Error(), "kubectl-otterscale_v1.2.3_linux_arm64.tar.gz") || !strings.Contains(err.Error(), "make dist VERSION=v1.2.3") {
		t.Errorf("a missing archive: %v", err)
	}
	o.SkipMissing = true
	r, err := render(o, krewYAML(t))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(r.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if r.Platforms != 2 || len(m.Spec.Platforms) != 2 || len(r.Missing) != 4 {
		t.Fatalf("%d platforms (%d in the file), missing %v", r.Platforms, len(m.Spec.Platforms), r.Missing)
	}
	if m.Spec.Platforms[0].Bin != "kubectl-otterscale" || m.Spec.Platforms[1].Bin != "kubectl-otterscale.exe" || m.Spec.Version != tag {
		t.Errorf("kept %+v", m.Spec)
	}
	if _, err := render(opts(dist(t)), krewYAML(t)); err == nil {
		t.Error("an empty dist rendered")
	}
}

// What krew-release-bot would not accept fails here too, with an error that
// says what and where.
func TestRenderRefusesWhatTheBotWould(t *testing.T) {
	const head = "apiVersion: krew.googlecontainertools.github.com/v1alpha2\nkind: Plugin\nmetadata:\n  name: otterscale\nspec:\n  version: {{ .TagName }}\n"
	const asset = `"https://github.com/otterscale/kubectl-otterscale/releases/download/{{ .TagName }}/kubectl-otterscale_{{ .TagName }}_linux_amd64.tar.gz"`
	platform := func(call string) string {
		return head + "  platforms:\n  - selector:\n      matchLabels:\n        os: linux\n        arch: amd64\n" + call + "\n    bin: kubectl-otterscale\n"
	}
	for _, c := range []struct {
		name, tag, text string
		archives        []string
		want            []string
	}{
		{name: "the bot's own form renders", text: platform("    {{ addURIAndSha " + asset + " .TagName }}")},
		{name: "indent where the bot wants it", text: platform("    {{ addURIAndSha " + asset + " .TagName | indent 4 }}")},
		{
			name: "indent at the start of the line",
			text: platform("{{ addURIAndSha " + asset + " .TagName | indent 4 }}"),
			want: []string{"not YAML", "krew-release-bot would refuse it", `rendered line`, `"uri: https://`},
		},
		{
			name: "a sprig function",
			text: head + "  shortDescription: {{ .TagName | quote }}\n",
			want: []string{`function "quote" not defined`, "krew-release-bot offers .TagName, addURIAndSha and indent"},
		},
		{
			name: "a field the bot fills from GitHub",
			text: head + "  homepage: https://github.com/{{ .PluginOwner }}/kubectl-otterscale\n",
			want: []string{"PluginOwner", ".krew.yaml:7", ".TagName only"},
		},
		{
			name: ".Version outside addURIAndSha",
			text: head + "  shortDescription: {{ .Version }}\n",
			want: []string{"Version", ".TagName only"},
		},
		{
			name: "an asset of another release",
			text: platform(`    {{ addURIAndSha "https://github.com/otterscale/kubectl-otterscale/releases/download/v0.1.0/kubectl-otterscale_v0.1.0_linux_amd64.tar.gz" .TagName }}`),
			want: []string{"v0.1.0/kubectl-otterscale_v0.1.0_linux_amd64.tar.gz is not in the release of v1.2.3"},
		},
		{
			name: "an archive no platform names",
			text: platform("    {{ addURIAndSha " + asset + " .TagName }}"), archives: allArchives[:2],
			want: []string{"names no platform for", "kubectl-otterscale_v1.2.3_linux_arm64.tar.gz"},
		},
		{
			name: "not a plugin",
			text: "kind: Other\nmetadata:\n  name: otterscale\n",
			want: []string{`kind "Other"`},
		},
		{
			name: "a tag Krew cannot take", tag: "1.2",
			text: platform("    {{ addURIAndSha " + asset + " .TagName }}"),
			want: []string{`-tag "1.2"`, "semantic version"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			archives := c.archives
			if archives == nil {
				archives = allArchives[:1]
			}
			o := opts(dist(t, archives...))
			if c.tag != "" {
				o.Tag = c.tag
			}
			r, err := render(o, c.text)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				var m manifest
				if err := yaml.Unmarshal(r.Manifest, &m); err != nil || len(m.Spec.Platforms) != 1 || len(m.Spec.Platforms[0].SHA256) != 64 {
					t.Errorf("%v:\n%s", err, r.Manifest)
				}
				return
			}
			if err == nil {
				t.Fatalf("rendered:\n%s", r.Manifest)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// indent and the URL's .Version behave as the bot's (its
// pkg/source/template_test.go cases).
func TestBotHelpers(t *testing.T) {
	if got := botIndent(4, "uri: some-secure-uri\nsha256: some-sha256"); got != "uri: some-secure-uri\n    sha256: some-sha256" {
		t.Errorf("indent 4: %q", got)
	}
	if got := botIndent(6, "uri: some-secure-uri\n    sha256: some-sha256"); got != "uri: some-secure-uri\n      sha256: some-sha256" {
		t.Errorf("indent 6: %q", got)
	}
	if versionOfTag("v0.0.2") != "0.0.2" || versionOfTag("no-version") != "no-version" {
		t.Errorf("versions %q %q", versionOfTag("v0.0.2"), versionOfTag("no-version"))
	}
	uri, err := assetURI("https://example.test/{{ .TagName }}/x_{{ .Version }}.tar.gz", "v0.0.2")
	if err != nil || uri != "https://example.test/v0.0.2/x_0.0.2.tar.gz" {
		t.Errorf("assetURI: %q, %v", uri, err)
	}
}
