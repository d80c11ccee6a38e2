package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// Rig is what a benchmark of the whole system starts with: a working directory, the operator's
// binary, a Stack, and a Git server over SSH holding one bare repository, with clients whose
// rate limits stay out of the way of the figures.
type Rig struct {
	Dir     string
	Binary  string
	Cluster *Stack
	Clients kubernetes.Interface
	Dynamic dynamic.Interface
	Server  *gitserver.SSHServer
	Key     *gitserver.ClientKey
	RepoDir string
	// Operator is the operator a benchmark started, stopped by Stop.
	Operator *Operator
}

// StartRig builds the operator and starts the Stack and the Git server with repository repo, all
// under dir. On error, what started is stopped.
func StartRig(ctx context.Context, dir, repo string) (*Rig, error) {
	r := &Rig{Dir: dir}
	if err := r.start(ctx, repo); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

func (r *Rig) start(ctx context.Context, repo string) error {
	var err error
	if r.Binary, err = BuildOperator(ctx, r.Path("bin"), false); err != nil {
		return err
	}
	if r.Cluster, err = Start(ctx, Options{Dir: r.Path("cluster")}); err != nil {
		return err
	}
	cfg := rest.CopyConfig(r.Cluster.Env.Config)
	cfg.QPS, cfg.Burst = 5000, 5000
	if r.Clients, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if r.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	if r.Key, err = gitserver.NewClientKey(); err != nil {
		return err
	}
	if r.Server, err = gitserver.NewSSHServer(r.Path("git"), r.Key.PublicKey); err != nil {
		return err
	}
	r.RepoDir, err = gitserver.InitBareRepo(ctx, r.Path("git"), repo)
	return err
}

// Path is the directory name below the Rig's, created when missing.
func (r *Rig) Path(name string) string {
	p := filepath.Join(r.Dir, name)
	_ = os.MkdirAll(p, 0o700)
	return p
}

// Namespace creates namespace ns with the quick start's git-creds Secret for the Git server.
func (r *Rig) Namespace(ctx context.Context, ns string) error {
	if _, err := r.Clients.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	if _, err := r.Clients.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git-creds"},
		Data:       map[string][]byte{"ssh-privatekey": r.Key.PrivateKeyPEM, "known_hosts": []byte(r.Server.KnownHosts())},
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the git-creds Secret in %s: %w", ns, err)
	}
	return nil
}

// Stop stops the operator, the Git server and the Stack, whichever started.
func (r *Rig) Stop() {
	if r.Operator != nil {
		_ = r.Operator.Stop(30 * time.Second)
	}
	if r.Server != nil {
		_ = r.Server.Close()
	}
	if r.Cluster != nil {
		_ = r.Cluster.Stop()
	}
}
