// Command krew-manifest renders krew-release-bot's .krew.yaml into the Krew
// plugin manifest for the release archives that goreleaser wrote to dist/,
// offline: what the bot renders from a tag's GitHub release, with each
// archive's sha256 taken from the file in dist/ instead of a download. The
// Makefile runs it (`make krew-manifest VERSION=vX.Y.Z`) and then checks the
// result with krew's validate-krew-manifest; test/krew installs it.
//
//	go run ./hack/krew-manifest -tag v1.2.3 [-dist dist] [-template .krew.yaml] [-out dist/krew/otterscale.yaml] [-skip-missing]
//
// -skip-missing leaves out the platforms whose archive was not built (make
// test builds two of them); without it, a missing archive is an error, as it
// is for the bot.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// releaseDownload is where a tag's assets are published; the tag follows.
const releaseDownload = "https://github.com/otterscale/kubectl-otterscale/releases/download/"

func main() {
	var o options
	flag.StringVar(&o.Tag, "tag", "", "the release's tag (a semantic version with a leading v, such as v1.2.3)")
	flag.StringVar(&o.Dist, "dist", "dist", "directory with goreleaser's archives")
	flag.StringVar(&o.Template, "template", ".krew.yaml", "krew-release-bot's manifest template")
	flag.StringVar(&o.Out, "out", "", "output file (default DIST/krew/otterscale.yaml)")
	flag.BoolVar(&o.SkipMissing, "skip-missing", false, "leave out the platforms whose archive is not in -dist")
	flag.Parse()
	if o.Out == "" {
		o.Out = filepath.Join(o.Dist, "krew", "otterscale.yaml")
	}
	o.ReleaseURL = releaseDownload + o.Tag + "/"
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "krew-manifest: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	text, err := os.ReadFile(o.Template)
	if err != nil {
		return err
	}
	r, err := render(o, string(text))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.Out, r.Manifest, 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %d platforms of %s\n", o.Out, r.Platforms, o.Tag)
	for _, m := range r.Missing {
		fmt.Printf("  left out %s: not built\n", m)
	}
	return nil
}
