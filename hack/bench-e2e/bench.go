package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	*stack.Rig
	pushes *pushLog
}

func (b *bench) start(ctx context.Context) error {
	fmt.Println("starting a control plane, a Git server, and building the operator")
	rig, err := stack.StartRig(ctx, b.dir, "bench")
	if err != nil {
		return err
	}
	b.Rig = rig
	if b.pushes, err = recordPushes(b.RepoDir, filepath.Join(b.dir, "pushes.log")); err != nil {
		return err
	}
	for _, ns := range []string{namespace, latencyNamespace} {
		if err := b.Namespace(ctx, ns); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) stop() {
	if b.Rig != nil {
		b.Rig.Stop()
	}
}

func (b *bench) startOperator() error {
	args := append(b.Cluster.OperatorArgs(b.cfg.attribution), "--work-dir", b.Path("work"), "--cluster-name", "bench",
		"--zap-log-level", "debug", "--zap-time-encoding", "rfc3339nano")
	if b.cfg.pprof != "" {
		args = append(args, "--pprof-bind-address", b.cfg.pprof)
	}
	if b.cfg.memoryLimit != "" {
		args = append(args, "--memory-limit", b.cfg.memoryLimit)
	}
	op, err := stack.StartOperator(b.Binary, b.Cluster.Kubeconfig, filepath.Join(b.dir, "operator.log"), args...)
	b.Operator = op
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
