package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"
	yamlv3 "sigs.k8s.io/yaml/goyaml.v3"
)

// options say what to render and from what.
type options struct {
	Tag         string
	Dist        string
	Template    string
	Out         string
	ReleaseURL  string // every asset's URI starts with it
	SkipMissing bool
}

// rendered is the manifest and what went into it.
type rendered struct {
	Manifest  []byte
	Platforms int
	// Missing are the asset URIs left out with -skip-missing.
	Missing []string
}

// semver is a semantic version with the leading v that Krew wants.
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// The template language is krew-release-bot's, and only that: the bot runs
// text/template with exactly these functions and no others (no sprig), over
// its ReleaseRequest (rajatjindal/krew-release-bot, pkg/source/template.go,
// RenderTemplate, and pkg/source/source.go, ReleaseRequest):
//
//   - .TagName is the release's tag. The request's other fields (the plugin's
//     owner, repository, the actor) come from the GitHub event; a template
//     that needs them cannot be rendered offline, so this renderer refuses
//     them.
//   - addURIAndSha URL TAG renders URL as a template of its own with
//     .TagName (TAG) and .Version (the tag's dotted digits), downloads that
//     asset and gives "uri: URL" and, on the next line after four spaces,
//     "sha256: SUM". Here the asset is the file of that name in dist/, and
//     its URL must be in this tag's release (a typo or a pinned old tag
//     would make the bot hash another release's archive, or fail).
//   - indent N S drops those four spaces, pads every line of S with N
//     spaces, and trims the result: the call's own line keeps the column
//     where the template puts it.
//
// After rendering, the bot reads the plugin's name from the result as
// YAML; what is not YAML it refuses, and so does this renderer.
func render(o options, text string) (rendered, error) {
	var r rendered
	if !semver.MatchString(o.Tag) {
		return r, fmt.Errorf("-tag %q: want a semantic version with a leading v, such as v1.2.3 (make krew-manifest VERSION=v1.2.3)", o.Tag)
	}
	name := filepath.Base(o.Template)
	used := map[string]bool{}
	funcs := template.FuncMap{
		"indent": botIndent,
		"addURIAndSha": func(url, tag string) (string, error) {
			uri, err := assetURI(url, tag)
			if err != nil {
				return "", err
			}
			if !strings.HasPrefix(uri, o.ReleaseURL) || strings.Contains(strings.TrimPrefix(uri, o.ReleaseURL), "/") {
				return "", fmt.Errorf("asset %s is not in the release of %s (%s...): krew-release-bot would hash another release's file", uri, o.Tag, o.ReleaseURL)
			}
			file := filepath.Join(o.Dist, path.Base(uri))
			used[path.Base(uri)] = true
			sum, err := sha256File(file)
			if errors.Is(err, os.ErrNotExist) && o.SkipMissing {
				r.Missing = append(r.Missing, uri)
				sum = strings.Repeat("0", 64)
			} else if err != nil {
				return "", fmt.Errorf("asset %s: %w (goreleaser did not build it: run make dist VERSION=%s)", uri, err, o.Tag)
			}
			return fmt.Sprintf("uri: %s\n    sha256: %s", uri, sum), nil
		},
	}
	t, err := template.New(name).Funcs(funcs).Parse(text)
	if err != nil {
		return r, fmt.Errorf("%w (krew-release-bot offers .TagName, addURIAndSha and indent, nothing else)", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ TagName string }{o.Tag}); err != nil {
		if strings.Contains(err.Error(), "can't evaluate field") {
			return r, fmt.Errorf("%w (a template rendered offline can use .TagName only)", err)
		}
		return r, err
	}

	var m struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Platforms []struct {
				URI string `json:"uri"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b.Bytes(), &m); err != nil {
		return r, fmt.Errorf("%s rendered for %s is not YAML, so krew-release-bot would refuse it: %w%s", name, o.Tag, err, lineOf(b.Bytes(), err))
	}
	if m.Kind != "Plugin" || m.Metadata.Name == "" {
		return r, fmt.Errorf("%s rendered for %s: kind %q, metadata.name %q: not a Krew plugin manifest", name, o.Tag, m.Kind, m.Metadata.Name)
	}
	// Every archive goreleaser built must be installable through Krew.
	archives, err := archivesIn(o.Dist)
	if err != nil {
		return r, err
	}
	for _, a := range archives {
		if !used[a] {
			return r, fmt.Errorf("%s names no platform for %s: an archive goreleaser built that Krew would not install", name, filepath.Join(o.Dist, a))
		}
	}

	r.Manifest = b.Bytes()
	r.Platforms = len(m.Spec.Platforms)
	if len(r.Missing) > 0 {
		if r.Manifest, err = dropPlatforms(r.Manifest, r.Missing); err != nil {
			return r, err
		}
		r.Platforms -= len(r.Missing)
		if r.Platforms == 0 {
			return r, fmt.Errorf("no archive of %s in %s: run make dist VERSION=%s first", o.Tag, o.Dist, o.Tag)
		}
	}
	return r, nil
}

// assetURI renders addURIAndSha's URL argument as the bot does.
func assetURI(url, tag string) (string, error) {
	t, err := template.New("url").Parse(url)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = t.Execute(&b, struct{ TagName, Version string }{tag, versionOfTag(tag)})
	return b.String(), err
}

// versionOfTag is the bot's extractVersionFromTag: the first run of dotted
// digits in the tag, or the tag itself.
func versionOfTag(tag string) string {
	if v := regexp.MustCompile(`\d+(\.\d+)+`).FindString(tag); v != "" {
		return v
	}
	return tag
}

// botIndent is the bot's indent, with the fix for addURIAndSha's four
// spaces.
func botIndent(spaces int, v string) string {
	v = strings.ReplaceAll(v, "    sha256:", "sha256:")
	pad := strings.Repeat(" ", spaces)
	return strings.TrimSpace(pad + strings.ReplaceAll(v, "\n", "\n"+pad))
}

// lineOf quotes the rendered line a YAML error names and the one before
// (where a misplaced addURIAndSha shows).
func lineOf(doc []byte, err error) string {
	m := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	n, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(doc), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	var b strings.Builder
	for i := max(n-1, 1); i <= n; i++ {
		fmt.Fprintf(&b, "\nrendered line %d: %q", i, lines[i-1])
	}
	return b.String()
}

// archivesIn lists the release archives in dir.
func archivesIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: run make dist VERSION=vX.Y.Z first", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".tar.gz") || strings.HasSuffix(e.Name(), ".zip")) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// dropPlatforms removes the spec.platforms entries with these URIs,
// keeping the rest of the document as it is.
func dropPlatforms(doc []byte, uris []string) ([]byte, error) {
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	platforms := lookup(lookup(root.Content[0], "spec"), "platforms")
	if platforms == nil || platforms.Kind != yamlv3.SequenceNode {
		return nil, errors.New("manifest has no spec.platforms list")
	}
	platforms.Content = slices.DeleteFunc(platforms.Content, func(p *yamlv3.Node) bool {
		uri := lookup(p, "uri")
		return uri != nil && slices.Contains(uris, uri.Value)
	})
	var b bytes.Buffer
	enc := yamlv3.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// lookup is a mapping node's value for key, or nil.
func lookup(n *yamlv3.Node, key string) *yamlv3.Node {
	if n == nil || n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// sha256File is the file's SHA-256 in hex.
func sha256File(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
