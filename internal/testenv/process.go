package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// freePorts finds n distinct free loopback ports. Holding all listeners open
// until every port is chosen keeps the kernel from handing one out twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (e *Env) etcdArgs(peerPort int) []string {
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	return []string{
		"--name=testenv",
		"--data-dir=" + filepath.Join(e.Dir, "etcd"),
		"--listen-client-urls=" + e.EtcdURL,
		"--advertise-client-urls=" + e.EtcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=testenv=" + peerURL,
		"--initial-cluster-state=new",
		"--log-level=warn",
		// Test data is thrown away; fsync only costs time.
		"--unsafe-no-fsync",
		// etcd's recommended maximum instead of its 2 GiB default, so that
		// benchmarks creating many objects between the API server's 5-minute
		// compactions cannot hit the quota (the space is not allocated up front).
		"--quota-backend-bytes=" + fmt.Sprint(8<<30),
	}
}

func (e *Env) apiserverArgs() []string {
	return []string{
		"--etcd-servers=" + e.EtcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", e.apiPort),
		// The API server writes a self-signed CA and serving certificate here
		// on first start and reuses them on restart, so clients keep trusting it.
		"--cert-dir=" + filepath.Join(e.Dir, "certs"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + filepath.Join(e.Dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(e.Dir, "sa.key"),
		"--token-auth-file=" + filepath.Join(e.Dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		// The lease reconciler would publish 127.0.0.1 as the "kubernetes"
		// service's endpoint, which validation rejects every 10 s in the log.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
}

// waitEtcd waits until etcd has elected itself leader.
func (e *Env) waitEtcd(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := e.etcd.Exited(); err != nil {
			return false, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.EtcdURL+"/health", nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"health":"true"`)), nil
	})
	if err != nil {
		return fmt.Errorf("wait for etcd: %w", daemon.WithTail(err, e.etcd))
	}
	return nil
}

// waitReady waits until the API server's /readyz passes, which includes its
// etcd connection, RBAC bootstrap and the CRD informer.
func (e *Env) waitReady(ctx context.Context) error {
	var last error
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := e.apiserver.Exited(); err != nil {
			return false, err
		}
		reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, last = e.Kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(reqCtx)
		return last == nil, nil
	})
	if err != nil {
		if last != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (last /readyz: %w)", err, last)
		}
		return fmt.Errorf("wait for kube-apiserver: %w", daemon.WithTail(err, e.apiserver))
	}
	return nil
}
