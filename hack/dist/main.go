// Command dist builds the release archives and renders the Krew manifest
// from them. The Makefile runs it: `make dist VERSION=vX.Y.Z` and `make
// krew-manifest VERSION=vX.Y.Z`.
//
//	go run ./hack/dist build -version v1.2.3 -commit SHA -date 2026-01-02T03:04:05Z [-platforms linux/amd64,...] [-out dist]
//	go run ./hack/dist manifest -version v1.2.3 -release-url URL [-dist dist] [-template krew/otterscale.yaml]
//
// Every archive's kubectl-otterscale is the cgo-free build: it starts on any
// machine and needs no shared library. The linux/amd64 archive also holds
// otterscale-ceph, the Ceph worker (cmd/otterscale-ceph: cgo, -tags
// pacific, linked against librbd1 and librados2), in which the cgo-free
// binary runs every Ceph call (pkg/worker). Builds are reproducible: -trimpath,
// no VCS stamp, and archive timestamps are the -date given (the Makefile
// passes the commit's date), so the same commit gives the same checksums.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// versionPattern is a semantic version with the leading v that Krew wants.
var versionPattern = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// checkVersion refuses a version that Krew or the archive names cannot take.
func checkVersion(v string) error {
	if !versionPattern.MatchString(v) {
		return fmt.Errorf("-version %q: want a semantic version with a leading v, such as v1.2.3 (make dist VERSION=v1.2.3)", v)
	}
	return nil
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = runBuild(os.Args[2:])
	case "manifest":
		err = runManifest(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dist: %v\n", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: dist build -version vX.Y.Z [-commit SHA] [-date RFC3339] [-platforms os/arch,...] [-out dist]")
	fmt.Fprintln(os.Stderr, "       dist manifest -version vX.Y.Z [-release-url URL] [-dist dist] [-template krew/otterscale.yaml]")
	os.Exit(2)
}

func runBuild(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	var o buildOptions
	var platforms, date string
	fs.StringVar(&o.Version, "version", "", "version to stamp in and name the archives by (vX.Y.Z)")
	fs.StringVar(&o.Commit, "commit", "unknown", "commit to stamp in")
	fs.StringVar(&date, "date", "", "build date to stamp in and to give the archives' files (RFC 3339; default the Unix epoch)")
	fs.StringVar(&platforms, "platforms", strings.Join(allPlatforms, ","), "comma-separated os/arch pairs to build")
	fs.StringVar(&o.Out, "out", "dist", "output directory")
	_ = fs.Parse(args)
	if err := checkVersion(o.Version); err != nil {
		return err
	}
	o.Date = time.Unix(0, 0).UTC()
	if date != "" {
		t, err := time.Parse(time.RFC3339, date)
		if err != nil {
			return fmt.Errorf("-date %q: want RFC 3339, such as 2026-01-02T03:04:05Z", date)
		}
		o.Date = t.UTC()
	}
	var err error
	if o.Platforms, err = parsePlatforms(platforms); err != nil {
		return err
	}
	return build(o, os.Stdout)
}

func runManifest(args []string) error {
	fs := flag.NewFlagSet("manifest", flag.ExitOnError)
	var o manifestOptions
	fs.StringVar(&o.Version, "version", "", "version of the archives (vX.Y.Z)")
	fs.StringVar(&o.ReleaseURL, "release-url", "", "where the archives are published (default: the GitHub release of -version)")
	fs.StringVar(&o.Dist, "dist", "dist", "directory with the archives")
	fs.StringVar(&o.Template, "template", "krew/otterscale.yaml", "manifest template")
	fs.StringVar(&o.Out, "out", "", "output file (default DIST/krew/otterscale.yaml)")
	_ = fs.Parse(args)
	if err := checkVersion(o.Version); err != nil {
		return err
	}
	if o.ReleaseURL == "" {
		o.ReleaseURL = defaultReleaseURL + "/" + o.Version
	}
	if o.Out == "" {
		o.Out = o.Dist + "/krew/otterscale.yaml"
	}
	return renderManifestFile(o, os.Stdout)
}
