package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

const (
	// namespace holds the 10,000 ConfigMaps of the snapshot, memory and restart figures, written
	// to the folder live-cluster.
	namespace = "bench"
	// latencyNamespace holds the ConfigMaps the latency figure writes, in a folder of their own
	// on the same branch (so the same Git writer), the way a repository holds many namespaces.
	latencyNamespace = "latency"
	branch           = "test-gitops-reverser"
	folder           = "live-cluster/" + namespace + "/configmaps"
	restartChanges   = 100
)

type bench struct {
	cfg config
	dir string

	cluster  *stack.Stack
	clients  kubernetes.Interface
	dynamic  dynamic.Interface
	server   *gitserver.SSHServer
	key      *gitserver.ClientKey
	repoDir  string
	binary   string
	operator *stack.Operator
	pushes   *pushLog
}

func (b *bench) start(ctx context.Context) error {
	fmt.Println("starting a control plane, a Git server, and building the operator")
	var err error
	if b.binary, err = stack.BuildOperator(ctx, b.path("bin"), false); err != nil {
		return err
	}
	if b.cluster, err = stack.Start(ctx, stack.Options{Dir: b.path("cluster")}); err != nil {
		return err
	}
	cfg := rest.CopyConfig(b.cluster.Env.Config)
	cfg.QPS, cfg.Burst = 5000, 5000
	if b.clients, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if b.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	key, err := gitserver.NewClientKey()
	if err != nil {
		return err
	}
	b.key = key
	if b.server, err = gitserver.NewSSHServer(b.path("git"), key.PublicKey); err != nil {
		return err
	}
	if b.repoDir, err = gitserver.InitBareRepo(ctx, b.path("git"), "bench"); err != nil {
		return err
	}
	if b.pushes, err = recordPushes(b.repoDir, filepath.Join(b.dir, "pushes.log")); err != nil {
		return err
	}
	for _, ns := range []string{namespace, latencyNamespace} {
		if err := b.namespace(ctx, ns); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) path(name string) string {
	p := filepath.Join(b.dir, name)
	_ = os.MkdirAll(p, 0o700)
	return p
}

func (b *bench) stop() {
	if b.operator != nil {
		_ = b.operator.Stop(30 * time.Second)
	}
	if b.server != nil {
		_ = b.server.Close()
	}
	if b.cluster != nil {
		_ = b.cluster.Stop()
	}
}

func (b *bench) startOperator() error {
	args := append(b.cluster.OperatorArgs(b.cfg.attribution), "--work-dir", b.path("work"), "--cluster-name", "bench",
		"--zap-log-level", "debug", "--zap-time-encoding", "rfc3339nano")
	if b.cfg.pprof != "" {
		args = append(args, "--pprof-bind-address", b.cfg.pprof)
	}
	if b.cfg.memoryLimit != "" {
		args = append(args, "--memory-limit", b.cfg.memoryLimit)
	}
	op, err := stack.StartOperator(b.binary, b.cluster.Kubeconfig, filepath.Join(b.dir, "operator.log"), args...)
	b.operator = op
	return err
}

func configMap(name, value string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/part-of": "bench"}},
		Data:       map[string]string{"key": value, "settings.yaml": "replicas: 3\nlog: info\nfeature: " + name + "\n"},
	}
}

// parallel runs do(i) for i in [0, n) on workers goroutines and returns the first error.
func parallel(n, workers int, do func(i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := do(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
