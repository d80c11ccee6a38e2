package attribution

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/tlsca"
)

// One control plane serves every test here: its audit webhook and the attribution admission
// webhook of config/webhook both point at receivers in this process, each with its own Index, so
// a test can tell which source attributed a change.
var (
	env            *controlplane.Env
	admissionIndex = NewIndex(IndexOptions{})
	auditIndex     = NewIndex(IndexOptions{})
	// auditLog keeps the delete events the audit receiver got, for tests that inspect what the
	// API server sends (test objects only: no Secrets).
	auditLog = &deleteEvents{}
)

const testNamespace = "default"

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx := context.Background()
	root, err := controlplane.RepoRoot()
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "attribution-test-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.RemoveAll(dir) }()

	// The audit receiver must listen before the API server starts: its kubeconfig names the port.
	auditTLS, err := tlsca.New("attribution test CA")
	if err != nil {
		return 0, err
	}
	auditListener, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{auditTLS.Cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return 0, err
	}
	auditServer := &http.Server{Handler: auditLog.tee(NewAuditHandler(auditIndex, logr.Discard())), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = auditServer.Serve(auditListener) }()
	defer func() { _ = auditServer.Close() }()
	kubeconfig := filepath.Join(dir, "audit-webhook.yaml")
	if err := os.WriteFile(kubeconfig, auditKubeconfig(auditListener.Addr().String(), auditTLS.CAPEM), 0o600); err != nil {
		return 0, err
	}

	e, err := controlplane.Start(ctx, controlplane.Options{
		WithoutCRDs: true,
		APIServerFlags: map[string]string{
			"audit-policy-file":            filepath.Join(root, "config", "audit", "policy.yaml"),
			"audit-webhook-config-file":    kubeconfig,
			"audit-webhook-batch-max-wait": "1s",
		},
		Webhooks: envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook")}},
	})
	if err != nil {
		return 0, err
	}
	env = e
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()

	if err := matchEverything(ctx); err != nil {
		return 0, err
	}
	admissionCalls := &atomic.Int64{}
	admissionServer, err := serveAdmission(env.Webhooks, admissionCalls)
	if err != nil {
		return 0, err
	}
	defer func() { _ = admissionServer.Close() }()
	if err := grantTestUsers(ctx); err != nil {
		return 0, err
	}
	if err := awaitAdmission(ctx, admissionCalls); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// matchEverything gives the attribution webhook, shipped without rules, rules for every resource:
// the receiver is under test here, and the operator that keeps the rules to what is captured
// (internal/webhookscope) is not running.
func matchEverything(ctx context.Context) error {
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "attribution"}, cfg); err != nil {
		return fmt.Errorf("reading the attribution webhook's configuration: %w", err)
	}
	scope := admissionregistrationv1.AllScopes
	for i := range cfg.Webhooks {
		cfg.Webhooks[i].Rules = []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*"}, Scope: &scope},
		}}
	}
	return env.Client.Update(ctx, cfg)
}

// serveAdmission serves the admission receiver where envtest pointed the webhook configuration.
func serveAdmission(w *envtest.WebhookInstallOptions, calls *atomic.Int64) (*http.Server, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(w.LocalServingCertDir, "tls.crt"), filepath.Join(w.LocalServingCertDir, "tls.key"))
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(w.LocalServingHost, strconv.Itoa(w.LocalServingPort))
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	handler := NewAdmissionHandler(admissionIndex, logr.Discard())
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		// envtest joins host and path with a slash of its own: "https://host:port//attribution/admission".
		if path.Clean(r.URL.Path) != AdmissionPath {
			http.NotFound(rw, r)
			return
		}
		calls.Add(1)
		handler.ServeHTTP(rw, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

// awaitAdmission waits until the API server calls the webhook: it does so only once its
// informer has seen the configuration envtest installed.
func awaitAdmission(ctx context.Context, calls *atomic.Int64) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: testNamespace}}
		if err := env.Client.Create(ctx, probe); err != nil {
			return false, err
		}
		return calls.Load() > 0, nil
	})
	if err != nil {
		return errors.New("the API server never called the attribution webhook")
	}
	return nil
}

// grantTestUsers lets alice and bob write what the tests write.
func grantTestUsers(ctx context.Context) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "attribution-test-writer"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps", "secrets", "services", "serviceaccounts", "pods", "namespaces"}, Verbs: []string{"*"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "deployments/scale"}, Verbs: []string{"*"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "attribution-test-writers"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "alice"},
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "bob"},
		},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("granting the test users: %w", err)
		}
	}
	return nil
}

func auditKubeconfig(hostPort string, caPEM []byte) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
  - name: attribution
    cluster:
      server: https://%s%s
      certificate-authority-data: %s
users:
  - name: kube-apiserver
contexts:
  - name: attribution
    context:
      cluster: attribution
      user: kube-apiserver
current-context: attribution
`, hostPort, AuditPath, base64.StdEncoding.EncodeToString(caPEM))
}
