// Package version holds the build's version, commit and date, stamped in by
// the Makefile's -ldflags -X.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at build time; the defaults are what `go install` or `go run` give.
var (
	Version = "dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// Info is what `kubectl otterscale version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build's version information. A binary built by `go
// install ...@vX.Y.Z` has no stamp, so the module version stands in.
func Get() Info {
	v := Version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return Info{
		Version:   v,
		Commit:    Commit,
		Date:      Date,
		GoVersion: runtime.Version(),
		Platform:  fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}
