package stack

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/tlsca"
)

// Options configure a Stack. The zero value works.
type Options struct {
	// Dir holds certificates, kubeconfigs and the audit configuration; a new temporary
	// directory, removed by Stop, when empty.
	Dir string
	// AuditBatchWait is the API server's --audit-webhook-batch-max-wait (default 1s, as we
	// recommend).
	AuditBatchWait string
	// AuditURL sends the audit webhook to another address than this Stack's operator: to the
	// operator of another Stack, as a remote cluster's (attribution.ClusterAuditPath), whose
	// serving CA is AuditCA. AuditToken is the bearer token the webhook sends.
	AuditURL   string
	AuditCA    []byte
	AuditToken string
}

// Stack is a running control plane wired to send attribution to an operator on 127.0.0.1.
type Stack struct {
	Env *controlplane.Env
	// Dir is the Stack's working directory.
	Dir string
	// Kubeconfig is an admin kubeconfig.
	Kubeconfig string
	// WebhookPort and CertDir are where the operator's webhook server must listen, with which
	// certificate, for the API server to reach its admission and audit receivers.
	WebhookPort int
	CertDir     string
	// CAPEM is the CA of the operator's webhook certificate in CertDir.
	CAPEM []byte

	ownDir bool
}

// Start starts a control plane that sends audit events to, and calls the admission webhook of,
// an operator started with OperatorArgs.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	s := &Stack{Dir: opts.Dir}
	if s.Dir == "" {
		dir, err := os.MkdirTemp("", "gitops-reverser-stack-")
		if err != nil {
			return nil, fmt.Errorf("creating the stack's directory: %w", err)
		}
		s.Dir, s.ownDir = dir, true
	}
	s.CertDir = filepath.Join(s.Dir, "webhook-certs")
	if err := os.MkdirAll(s.CertDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", s.CertDir, err)
	}
	serving, err := tlsca.New("gitops-reverser test webhook CA")
	if err != nil {
		return nil, err
	}
	if err := serving.WriteFiles(s.CertDir); err != nil {
		return nil, err
	}
	caPEM := serving.CAPEM
	s.CAPEM = caPEM
	if s.WebhookPort, err = FreePort(); err != nil {
		return nil, err
	}
	root, err := controlplane.RepoRoot()
	if err != nil {
		return nil, err
	}
	auditKubeconfig := filepath.Join(s.Dir, "audit-webhook.kubeconfig")
	auditURL, auditCA := s.URL(attribution.AuditPath), caPEM
	if opts.AuditURL != "" {
		auditURL, auditCA = opts.AuditURL, opts.AuditCA
	}
	if err := os.WriteFile(auditKubeconfig, []byte(webhookKubeconfig(auditURL, auditCA, opts.AuditToken)), 0o600); err != nil {
		return nil, fmt.Errorf("writing the audit webhook kubeconfig: %w", err)
	}
	batchWait := opts.AuditBatchWait
	if batchWait == "" {
		batchWait = "1s"
	}
	s.Env, err = controlplane.Start(ctx, controlplane.Options{APIServerFlags: map[string]string{
		"audit-policy-file":             filepath.Join(root, "config", "audit", "policy.yaml"),
		"audit-webhook-config-file":     auditKubeconfig,
		"audit-webhook-batch-max-wait":  batchWait,
		"audit-webhook-initial-backoff": "1s",
		// LimitRanges are watched from etcd itself, without the watch cache: compacting etcd
		// (Env.CompactEtcd) then drops their history, as an API server whose cache moved on
		// has, for tests of what happens when the history since Git's cursor is gone.
		"watch-cache-sizes": "limitranges#0",
	}})
	if err != nil {
		return nil, err
	}
	if err := s.installAdmissionWebhook(ctx, filepath.Join(root, "config", "webhook", "manifests.yaml"), caPEM); err != nil {
		_ = s.Stop()
		return nil, err
	}
	s.Kubeconfig = filepath.Join(s.Dir, "admin.kubeconfig")
	if err := s.Env.WriteKubeconfig(s.Kubeconfig); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// Stop stops the control plane and removes the directory Start created.
func (s *Stack) Stop() error {
	err := s.Env.Stop()
	if s.ownDir {
		_ = os.RemoveAll(s.Dir)
	}
	return err
}

// OperatorArgs are the flags that make the operator serve the Stack's webhooks, with the given
// attribution source (admission, audit, both or none).
func (s *Stack) OperatorArgs(attributionSource string) []string {
	return []string{
		"--attribution", attributionSource,
		"--attribution-webhook", "attribution",
		"--webhook-host", "127.0.0.1",
		"--webhook-port", strconv.Itoa(s.WebhookPort),
		"--webhook-cert-dir", s.CertDir,
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0",
	}
}

// UserKubeconfig writes a kubeconfig that authenticates as user, in groups, and returns its path.
func (s *Stack) UserKubeconfig(user string, groups ...string) (string, error) {
	path := filepath.Join(s.Dir, user+".kubeconfig")
	if err := s.Env.WriteUserKubeconfig(path, user, groups...); err != nil {
		return "", err
	}
	return path, nil
}

// Kubectl runs the control plane's kubectl with a kubeconfig, stdin and arguments, and returns
// its output.
func (s *Stack) Kubectl(ctx context.Context, kubeconfig, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.Env.Kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// URL is where the API server reaches the operator's webhook server at path.
func (s *Stack) URL(path string) string {
	return fmt.Sprintf("https://127.0.0.1:%d%s", s.WebhookPort, path)
}

// installAdmissionWebhook creates config/webhook's ValidatingWebhookConfigurations, pointed at
// the operator on 127.0.0.1 instead of its Service.
func (s *Stack) installAdmissionWebhook(ctx context.Context, manifest string, caPEM []byte) error {
	data, err := os.ReadFile(manifest)
	if err != nil {
		return fmt.Errorf("reading %s: %w", manifest, err)
	}
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := yaml.UnmarshalStrict(doc, cfg); err != nil {
			return fmt.Errorf("decoding document %d of %s: %w", i+1, manifest, err)
		}
		for i := range cfg.Webhooks {
			cc := &cfg.Webhooks[i].ClientConfig
			url := s.URL(attribution.AdmissionPath)
			if cc.Service != nil && cc.Service.Path != nil {
				url = s.URL(*cc.Service.Path)
			}
			cc.Service, cc.URL, cc.CABundle = nil, &url, caPEM
		}
		if err := s.Env.Client.Create(ctx, cfg); err != nil {
			return fmt.Errorf("installing the admission webhook %s: %w", cfg.Name, err)
		}
	}
	return nil
}

func webhookKubeconfig(server string, caPEM []byte, token string) string {
	user := ""
	if token != "" {
		user = "\n    user:\n      token: " + token
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
  - name: gitops-reverser
    cluster:
      server: %s
      certificate-authority-data: %s
users:
  - name: kube-apiserver%s
contexts:
  - name: gitops-reverser
    context:
      cluster: gitops-reverser
      user: kube-apiserver
current-context: gitops-reverser
`, server, base64.StdEncoding.EncodeToString(caPEM), user)
}

// FreePort returns a TCP port of 127.0.0.1 that nothing listens on (yet).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddress is a free "127.0.0.1:<port>" for a test; it fails the test when there is none.
func FreeAddress(t testing.TB) string {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
