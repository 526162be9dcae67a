package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

// defaultReleaseURL is where a tag's archives are published; the version
// follows.
const defaultReleaseURL = "https://github.com/" + "otterscale/kubectl-otterscale/releases/download"

// manifestOptions are `dist manifest`'s flags.
type manifestOptions struct {
	Version, ReleaseURL, Dist, Template, Out string
}

// manifestPlatform is one platform entry of the Krew manifest.
type manifestPlatform struct {
	OS, Arch, URI, SHA256, Bin, Complete string
	// Ceph says the archive carries otterscale-ceph.
	Ceph bool
}

// manifestData is what the template is filled with.
type manifestData struct {
	Version   string
	Platforms []manifestPlatform
}

// renderManifestFile renders the template for the version's archives in
// o.Dist into o.Out.
func renderManifestFile(o manifestOptions, log io.Writer) error {
	data, err := manifestFor(o)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(o.Template)
	if err != nil {
		return err
	}
	out, err := renderManifest(string(text), data)
	if err != nil {
		return fmt.Errorf("%s: %w", o.Template, err)
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.Out, out, 0o644); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(log, "%s (%d platforms)\n", o.Out, len(data.Platforms))
	return nil
}

// manifestFor reads the version's archives in o.Dist, in the release's
// platform order. Each one's files are read, not assumed.
func manifestFor(o manifestOptions) (manifestData, error) {
	d := manifestData{Version: o.Version}
	base := strings.TrimSuffix(o.ReleaseURL, "/")
	for _, s := range allPlatforms {
		p, _ := parsePlatforms(s)
		name := archiveName(o.Version, p[0])
		path := filepath.Join(o.Dist, name)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		files, err := archiveFiles(path)
		if err != nil {
			return d, fmt.Errorf("%s: %w", path, err)
		}
		mp := manifestPlatform{
			OS: p[0].OS, Arch: p[0].Arch, URI: base + "/" + name,
			Bin: p[0].exe(binName), Complete: "kubectl_complete-otterscale",
			Ceph: slices.Contains(files, cephName),
		}
		if p[0].OS == "windows" {
			mp.Complete += ".cmd"
		}
		for _, want := range []string{mp.Bin, mp.Complete, "LICENSE"} {
			if !slices.Contains(files, want) {
				return d, fmt.Errorf("%s has no %s", path, want)
			}
		}
		if mp.SHA256, err = sha256File(path); err != nil {
			return d, err
		}
		d.Platforms = append(d.Platforms, mp)
	}
	if len(d.Platforms) == 0 {
		return d, fmt.Errorf("no archives of %s in %s: run make dist VERSION=%s first", o.Version, o.Dist, o.Version)
	}
	return d, nil
}

// renderManifest fills the template; a field it does not know is an error.
func renderManifest(text string, data manifestData) ([]byte, error) {
	t, err := template.New("manifest").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// archiveFiles lists the names in a .tar.gz or .zip.
func archiveFiles(path string) ([]string, error) {
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return nil, err
		}
		defer func() { _ = zr.Close() }()
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		return names, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names = append(names, hdr.Name)
	}
}
