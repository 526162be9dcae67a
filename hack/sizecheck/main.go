// Command sizecheck fails when git tracks a file larger than the limit
// (1 MiB), unless the file is on the allow-list. `make lint` runs it, so
// that a build output committed by mistake (a 67 MB binary once was) stops
// the run instead of living in the pack for ever.
//
//	go run ./hack/sizecheck [-limit 1048576] [-allow path,...] [dir]
//
// It reads the index (`git ls-files`), so a file added but not yet
// committed is caught too, and the working tree's size of each file, which
// is what the next commit would store.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// allowed are the tracked files that may be larger than the limit, each
// with the reason. Nothing needs to be today.
var allowed = map[string]string{}

func main() {
	limit := flag.Int64("limit", 1<<20, "the largest size in bytes a tracked file may have")
	allow := flag.String("allow", "", "more paths (comma separated, relative to the repository) that may be larger")
	flag.Parse()
	dir := "."
	if flag.NArg() > 0 {
		dir = flag.Arg(0)
	}
	ok := map[string]bool{}
	for p := range allowed {
		ok[p] = true
	}
	for _, p := range strings.Split(*allow, ",") {
		if p != "" {
			ok[p] = true
		}
	}
	if err := check(os.Stderr, dir, *limit, ok); err != nil {
		fmt.Fprintln(os.Stderr, "sizecheck:", err)
		os.Exit(1)
	}
}

// check lists git's tracked files in dir and reports each one over limit
// that is not in allow.
func check(w io.Writer, dir string, limit int64, allow map[string]bool) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	var big []string
	for _, p := range strings.Split(string(out), "\x00") {
		if p == "" || allow[p] {
			continue
		}
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			// Deleted in the working tree but still in the index: the
			// next commit removes it or `git rm` is pending; nothing to
			// weigh.
			if os.IsNotExist(err) {
				continue
			}
			return err
		}
		if fi.Mode().IsRegular() && fi.Size() > limit {
			big = append(big, fmt.Sprintf("%s (%s)", p, human(fi.Size())))
		}
	}
	if len(big) == 0 {
		return nil
	}
	sort.Strings(big)
	for _, b := range big {
		fmt.Fprintln(w, "  "+b)
	}
	return fmt.Errorf("%d tracked file(s) larger than %s: a build output or data committed by mistake? "+
		"Remove it (git rm --cached), ignore it in .gitignore, or, if it must be tracked, add it to the allow-list in hack/sizecheck/main.go with the reason",
		len(big), human(limit))
}

func human(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
