package main

import (
	"context"
	"errors"
	"io"

	"github.com/otterscale/kubectl-otterscale/internal/testenv"
)

// runDemo drives the plugin against the running sandbox for `make demo`; the
// sandbox stops when it returns.
func runDemo(ctx context.Context, env *testenv.Env, out io.Writer) error {
	return errors.New("-demo: not yet")
}
