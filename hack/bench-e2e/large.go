package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

const (
	// largeNamespace holds the ConfigMaps of the scale figures (100,000 by default), in a folder
	// of their own on the same branch.
	largeNamespace = "bench-large"
	largeFolder    = "folder-large/" + largeNamespace + "/configmaps"
)

// largeRate and largeWrites are the latency phase of the scale figures: in a folder of 100,000
// files each commit is a 4 MB tree the Git server has to rebuild and walk (the push floor shows
// it), and at 100 writes/s no server on this machine keeps up.
const (
	largeRate   = 10
	largeWrites = 200
)

type largeFigures struct {
	snapshot, reference time.Duration
	rss                 float64
	latency             latencies
	floor               percentiles
}

// large creates cfg.large ConfigMaps in a namespace no rule selects yet while the operator runs
// (it sees every one of them), then the quick start's objects for that namespace, and measures
// until the snapshot's commit is on the remote, next to kubectl printing the same objects as
// YAML; then the operator's RSS, the latency of writes in that folder at largeRate, and its
// push floor.
func (b *bench) large(ctx context.Context) (largeFigures, error) {
	var f largeFigures
	fmt.Printf("creating %d ConfigMaps in namespace %s\n", b.cfg.large, largeNamespace)
	if err := b.Namespace(ctx, largeNamespace); err != nil {
		return f, err
	}
	if err := parallel(b.cfg.large, 16, func(i int) error {
		_, err := b.Clients.CoreV1().ConfigMaps(largeNamespace).Create(ctx, configMap(fmt.Sprintf("cm-%d", i), "v1"), metav1.CreateOptions{})
		return err
	}); err != nil {
		return f, err
	}
	began := time.Now()
	cmd := exec.CommandContext(ctx, b.Cluster.Env.Kubectl, "--kubeconfig", b.Cluster.Kubeconfig, "get", "configmaps", "-n", largeNamespace, "-o", "yaml")
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return f, fmt.Errorf("kubectl get: %w", err)
	}
	f.reference = time.Since(began)

	objects, err := stack.QuickStartManifest(b.Server.URL("bench"))
	if err != nil {
		return f, err
	}
	objects = strings.Replace(objects, `interval: "5s"`, `interval: "0s"`, 1)
	objects = strings.Replace(objects, "path: live-cluster", "path: folder-large", 1)
	began = time.Now()
	if _, err := b.Cluster.Kubectl(ctx, b.Cluster.Kubeconfig, objects, "apply", "-n", largeNamespace, "-f", "-"); err != nil {
		return f, err
	}
	at, err := b.pushes.await(ctx, began, 600*time.Second, func(subject string) bool {
		return snapshotOf(subject, largeNamespace, b.cfg.large)
	})
	if err != nil {
		return f, fmt.Errorf("waiting for the snapshot of %d: %w", b.cfg.large, err)
	}
	f.snapshot = at.Sub(began)
	if err := b.converged(ctx, largeNamespace, largeFolder); err != nil {
		return f, err
	}
	if f.rss, err = b.memory("heap-large.pprof"); err != nil {
		return f, err
	}
	if f.latency, err = b.latencyAt(ctx, b.Clients, largeNamespace, "latency", largeWrites, largeRate); err != nil {
		return f, err
	}
	f.floor, err = b.pushFloor(ctx, largeFolder, 1, floorPushes/5)
	return f, err
}
