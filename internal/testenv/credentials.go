package testenv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	"github.com/otterscale/kubectl-otterscale/internal/daemon"
)

// tokens are the bearer tokens of one run. They are random so that a
// kubeconfig left behind by one run never authenticates against another.
type tokens struct {
	admin, nobody, bad string
}

// writeCredentials writes the token file and the service account key pair the
// API server needs into dir.
func writeCredentials(dir string) (tokens, error) {
	t := tokens{admin: rand.Text(), nobody: rand.Text(), bad: rand.Text()}
	// token,user,uid,"groups": "nobody" has no groups beyond the implicit
	// system:authenticated, whose bootstrap roles grant only discovery.
	csv := fmt.Sprintf("%s,admin,admin,system:masters\n%s,nobody,nobody\n", t.admin, t.nobody)
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(csv), 0o600); err != nil {
		return tokens{}, fmt.Errorf("write token file: %w", err)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tokens{}, fmt.Errorf("generate service account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return tokens{}, fmt.Errorf("encode service account public key: %w", err)
	}
	files := map[string]*pem.Block{
		"sa.key": {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)},
		"sa.pub": {Type: "PUBLIC KEY", Bytes: pub},
	}
	for name, block := range files {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			return tokens{}, fmt.Errorf("write service account key: %w", err)
		}
	}
	return t, nil
}

// connect waits for the API server's self-signed certificate, writes the
// kubeconfig trusting its CA, and builds the admin clients.
func (e *Env) connect(ctx context.Context) error {
	certPath := filepath.Join(e.Dir, "certs", "apiserver.crt")
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		if err := e.apiserver.Exited(); err != nil {
			return false, err
		}
		ca, err := readCA(certPath)
		if err != nil {
			// Not written yet, or only partly.
			return false, nil
		}
		e.CAData = ca
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("wait for the kube-apiserver certificate: %w", daemon.WithTail(err, e.apiserver))
	}

	if err := clientcmd.WriteToFile(e.kubeconfig(), e.Kubeconfig); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if e.Config, err = e.ContextConfig(ContextAdmin); err != nil {
		return err
	}
	if e.Kube, err = kubernetes.NewForConfig(e.Config); err != nil {
		return fmt.Errorf("create kubernetes client: %w", err)
	}
	if e.Dynamic, err = dynamic.NewForConfig(e.Config); err != nil {
		return fmt.Errorf("create dynamic client: %w", err)
	}
	if e.CDI, err = cdiclient.NewForConfig(e.Config); err != nil {
		return fmt.Errorf("create CDI client: %w", err)
	}
	return nil
}

// readCA returns the CA certificate from the API server's serving certificate
// file, which holds the serving certificate followed by the CA that signed it.
func readCA(path string) ([]byte, error) {
	rest, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no CA certificate in " + path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		if cert.IsCA {
			return pem.EncodeToMemory(block), nil
		}
	}
}

func (e *Env) kubeconfig() clientcmdapi.Config {
	const cluster = "otterscale-testenv"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: e.Server, CertificateAuthorityData: e.CAData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: e.tokens.admin}
	cfg.AuthInfos["nobody"] = &clientcmdapi.AuthInfo{Token: e.tokens.nobody}
	cfg.AuthInfos["badtoken"] = &clientcmdapi.AuthInfo{Token: e.tokens.bad}
	cfg.Contexts[ContextAdmin] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: "admin", Namespace: DefaultNamespace}
	cfg.Contexts[ContextOther] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: "admin", Namespace: OtherNamespace}
	cfg.Contexts[ContextNobody] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: "nobody", Namespace: DefaultNamespace}
	cfg.Contexts[ContextBadToken] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: "badtoken", Namespace: DefaultNamespace}
	cfg.CurrentContext = ContextAdmin
	return *cfg
}

// ContextConfig returns the client configuration of one of the kubeconfig's
// contexts (ContextAdmin, ContextOther, ContextNobody, ContextBadToken), read
// from the file the way kubectl would, without client-side rate limiting.
func (e *Env) ContextConfig(name string) (*rest.Config, error) {
	loader := &clientcmd.ClientConfigLoadingRules{ExplicitPath: e.Kubeconfig}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loader,
		&clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig context %q: %w", name, err)
	}
	// Tests create objects in bursts; the default 5 QPS would only slow them.
	cfg.QPS = -1
	return cfg, nil
}
