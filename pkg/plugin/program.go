package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"

	tea "charm.land/bubbletea/v2"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// runProgram runs a full-screen bubbletea model until it quits or ctx ends,
// and returns its final state. While it runs, client-go's logs and
// warnings go to a file: nothing may write onto the screen the view draws.
func runProgram(ctx context.Context, streams genericiooptions.IOStreams, model tea.Model) (tea.Model, error) {
	restore := logToFile()
	defer restore()
	p := tea.NewProgram(model, tea.WithContext(ctx), tea.WithInput(streams.In), tea.WithOutput(streams.Out))
	final, err := p.Run()
	if (errors.Is(err, tea.ErrProgramKilled) || errors.Is(err, tea.ErrInterrupted)) && ctx.Err() != nil {
		// Ctrl-C delivered as a signal rather than a key: a normal end,
		// which the caller learns from ctx.
		err = nil
	}
	return final, err
}

// logFile is where logs go while a full-screen view runs.
func logFile() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "kubectl-otterscale", "tui.log")
}

// logToFile sends klog (client-go's logger) and API warnings to logFile
// and returns the function that undoes it.
func logToFile() func() {
	path := logFile()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return silenceLogs()
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return silenceLogs()
	}
	undo := redirectKlog(f)
	rest.SetDefaultWarningHandler(rest.NewWarningWriter(f, rest.WarningWriterOptions{}))
	return func() {
		undo()
		rest.SetDefaultWarningHandler(rest.WarningLogger{})
		_ = f.Close()
	}
}

// silenceLogs drops logs when there is no file to keep them in: the screen
// is never the place.
func silenceLogs() func() {
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	undo := redirectKlog(nil)
	return func() {
		undo()
		rest.SetDefaultWarningHandler(rest.WarningLogger{})
	}
}

// redirectKlog points klog at w (nowhere when nil) instead of stderr.
func redirectKlog(w *os.File) func() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	if w != nil {
		klog.SetOutput(w)
	} else {
		klog.SetOutput(discard{})
	}
	return func() {
		_ = fs.Set("logtostderr", "true")
		klog.SetOutput(os.Stderr)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// compactJSON removes the whitespace protojson may add.
func compactJSON(data []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return data
	}
	return buf.Bytes()
}
