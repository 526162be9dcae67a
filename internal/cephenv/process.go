package cephenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// cephEnv is the environment of every Ceph program run here: the caller's,
// less the variables that would add arguments or point at another
// configuration file behind the cluster's back.
func cephEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CEPH_ARGS=") || strings.HasPrefix(kv, "CEPH_CONF=") || strings.HasPrefix(kv, "CEPH_KEYRING=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// poll calls cond every interval until it returns true or an error, or until
// ctx ends. On timeout the error also carries the last failure that cond
// recorded in *last, when last is not nil.
func poll(ctx context.Context, interval time.Duration, last *error, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if last != nil && *last != nil {
				return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), *last)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}
