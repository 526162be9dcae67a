package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// child is a plugin process started off a terminal, its stdout read line by
// line and its stderr kept for error messages.
type child struct {
	argv   []string
	stderr bytes.Buffer
	// exited is closed once stdout has been read to its end and cmd.Wait
	// has returned err.
	exited chan struct{}
	err    error
	pid    int
	kill   func() error
	signal func(os.Signal) error
}

// start runs argv with the runner's environment, passing each line of its
// stdout to line (in one goroutine, in order).
func (r *runner) start(ctx context.Context, argv []string, line func([]byte)) (*child, error) {
	c := &child{argv: argv, exited: make(chan struct{})}
	cmd := r.command(ctx, argv)
	cmd.Stderr = &c.stderr
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", c.command(), err)
	}
	c.pid, c.kill, c.signal = cmd.Process.Pid, cmd.Process.Kill, cmd.Process.Signal
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line(sc.Bytes())
		}
		_, _ = io.Copy(io.Discard, stdout)
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

func (c *child) command() string { return strings.Join(c.argv, " ") }

// wait waits up to limit for the process to exit and returns whether it
// did, and its exit's error.
func (c *child) wait(ctx context.Context, limit time.Duration) (exited bool, err error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-c.exited:
		return true, c.err
	case <-t.C:
	case <-ctx.Done():
	}
	return false, nil
}

// stop kills the process unless it has exited, and waits for it, so that it
// never outlives the benchmark.
func (c *child) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.kill()
	<-c.exited
}

// failed adds the command and what it wrote to stderr (only read after it
// exited, or once it has been killed) to err.
func (c *child) failed(err error) error {
	c.stop()
	return fmt.Errorf("%s: %w\nits stderr:\n%s", c.command(), err, strings.TrimRight(c.stderr.String(), "\n"))
}
