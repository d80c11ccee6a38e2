package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// Options configure a control plane. The zero value starts an API server with our CRDs installed.
type Options struct {
	// WithoutCRDs leaves out the CRDs of config/crd/bases, for an API server that plays a
	// plain target cluster.
	WithoutCRDs bool

	// APIServerFlags are extra kube-apiserver flags, such as the audit webhook's.
	APIServerFlags map[string]string

	// Webhooks are admission webhooks to install, served by the test process.
	Webhooks envtest.WebhookInstallOptions
}

// Env is a running kube-apiserver and etcd.
type Env struct {
	// Config is an admin configuration for the API server.
	Config *rest.Config
	// Client is an admin client that knows the built-in types and ours.
	Client client.Client
	// Scheme holds the built-in types and ours.
	Scheme *runtime.Scheme
	// Kubectl is the path of a kubectl of the API server's version.
	Kubectl string
	// Webhooks is where the installed admission webhooks expect to be served.
	Webhooks *envtest.WebhookInstallOptions

	env *envtest.Environment
	// certDir holds the API server's certificates and keys across a restart.
	certDir string
}

// Start builds the binaries if needed and starts a control plane. Call Stop when done.
func Start(ctx context.Context, opts Options) (*Env, error) {
	assets, err := Assets(ctx)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering built-in types: %w", err)
	}
	if err := configv1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering configbutler.ai types: %w", err)
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
		WebhookInstallOptions: opts.Webhooks,
	}
	if !opts.WithoutCRDs {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		env.CRDDirectoryPaths = []string{filepath.Join(root, "config", "crd", "bases")}
		env.ErrorIfCRDPathMissing = true
	}
	// A directory of our own, not envtest's random one: envtest removes that one when the API
	// server stops, and a restarted API server would then serve with a new CA.
	certDir, err := os.MkdirTemp("", "kube-apiserver-")
	if err != nil {
		return nil, fmt.Errorf("creating the API server's certificate directory: %w", err)
	}
	env.ControlPlane.GetAPIServer().CertDir = certDir
	apiServerArgs := env.ControlPlane.GetAPIServer().Configure()
	for flag, value := range opts.APIServerFlags {
		apiServerArgs.Set(flag, value)
	}

	cfg, err := env.Start()
	if err != nil {
		_ = os.RemoveAll(certDir)
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		_ = os.RemoveAll(certDir)
		return nil, fmt.Errorf("creating a client for the test API server: %w", err)
	}
	return &Env{
		Config:   cfg,
		Client:   c,
		Scheme:   scheme,
		Kubectl:  filepath.Join(assets, "kubectl"),
		Webhooks: &env.WebhookInstallOptions,
		env:      env,
		certDir:  certDir,
	}, nil
}

// Stop stops the API server and etcd and removes their data.
func (e *Env) Stop() error {
	defer os.RemoveAll(e.certDir)
	if err := e.env.Stop(); err != nil {
		return fmt.Errorf("stopping the test control plane: %w", err)
	}
	return nil
}

// RestartAPIServer stops the kube-apiserver and starts it again on the same address, with the
// same flags, certificates and etcd, as a control plane upgrade or a crash-looping API server
// does: its watch cache is rebuilt and every client's watch is cut.
func (e *Env) RestartAPIServer() error {
	api := e.env.ControlPlane.GetAPIServer()
	if err := api.Stop(); err != nil {
		return fmt.Errorf("stopping the kube-apiserver: %w", err)
	}
	if err := api.Start(); err != nil {
		return fmt.Errorf("starting the kube-apiserver again: %w", err)
	}
	return nil
}

// UserConfig returns a configuration that authenticates as the given user and groups, with a
// client certificate, so that the API server attributes requests to that user.
func (e *Env) UserConfig(name string, groups ...string) (*rest.Config, error) {
	user, err := e.env.AddUser(envtest.User{Name: name, Groups: groups}, e.Config)
	if err != nil {
		return nil, fmt.Errorf("adding test user %q: %w", name, err)
	}
	return user.Config(), nil
}

// WriteKubeconfig writes an admin kubeconfig to path, for kubectl and for the operator's binary.
func (e *Env) WriteKubeconfig(path string) error {
	user, err := e.env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, e.Config)
	if err != nil {
		return fmt.Errorf("adding the admin user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering the admin kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig %s: %w", path, err)
	}
	return nil
}

// Main is a test package's TestMain: it starts a control plane, points *env at it, runs the
// package's tests, stops the control plane and exits with the tests' result.
func Main(m *testing.M, opts Options, env **Env) {
	e, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// WriteUserKubeconfig writes a kubeconfig that authenticates as the given user and groups (a
// client certificate), for kubectl.
func (e *Env) WriteUserKubeconfig(path, name string, groups ...string) error {
	user, err := e.env.AddUser(envtest.User{Name: name, Groups: groups}, e.Config)
	if err != nil {
		return fmt.Errorf("adding test user %q: %w", name, err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering the kubeconfig of %q: %w", name, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig %s: %w", path, err)
	}
	return nil
}

// CompactEtcd compacts etcd's history up to its current revision, as etcd's periodic compaction
// does to old revisions: watches from a resourceVersion before it then fail with 410 Gone, unless
// the API server's watch cache still holds the events. It speaks etcd's JSON gateway, so the
// tests need no etcd client.
func (e *Env) CompactEtcd(ctx context.Context) (int64, error) {
	if e.env.ControlPlane.Etcd == nil || e.env.ControlPlane.Etcd.URL == nil {
		return 0, fmt.Errorf("no etcd URL")
	}
	base := e.env.ControlPlane.Etcd.URL.String()
	call := func(path, body string, out any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("etcd %s: %w", path, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("etcd %s: %s: %s", path, resp.Status, data)
		}
		return json.Unmarshal(data, out)
	}
	var status struct {
		Header struct {
			Revision string `json:"revision"`
		} `json:"header"`
	}
	if err := call("/v3/kv/range", `{"key":"AA=="}`, &status); err != nil {
		return 0, err
	}
	rev, err := strconv.ParseInt(status.Header.Revision, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("etcd's revision %q: %w", status.Header.Revision, err)
	}
	var ignored map[string]any
	if err := call("/v3/kv/compaction", fmt.Sprintf(`{"revision":"%d","physical":true}`, rev), &ignored); err != nil {
		return 0, err
	}
	return rev, nil
}
