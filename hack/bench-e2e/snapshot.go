package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

// snapshot creates the ConfigMaps, then the quick start's objects with push.interval 0, then
// starts the operator, and measures until the snapshot's commit is on the remote. The reference
// is kubectl printing the same objects as YAML.
func (b *bench) snapshot(ctx context.Context) (time.Duration, time.Duration, error) {
	fmt.Printf("creating %d ConfigMaps, and %d for the latency figure\n", b.cfg.objects, b.cfg.writes)
	err := parallel(b.cfg.objects, 16, func(i int) error {
		_, err := b.Clients.CoreV1().ConfigMaps(namespace).Create(ctx, configMap(fmt.Sprintf("cm-%d", i), "v1"), metav1.CreateOptions{})
		return err
	})
	if err == nil {
		err = parallel(b.cfg.writes, 16, func(i int) error {
			_, err := b.Clients.CoreV1().ConfigMaps(latencyNamespace).Create(ctx, configMap(fmt.Sprintf("cm-%d", i), "v1"), metav1.CreateOptions{})
			return err
		})
	}
	if err != nil {
		return 0, 0, err
	}
	began := time.Now()
	cmd := exec.CommandContext(ctx, b.Cluster.Env.Kubectl, "--kubeconfig", b.Cluster.Kubeconfig, "get", "configmaps", "-n", namespace, "-o", "yaml")
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("kubectl get: %w", err)
	}
	reference := time.Since(began)

	objects, err := stack.QuickStartManifest(b.Server.URL("bench"))
	if err != nil {
		return 0, 0, err
	}
	objects = strings.Replace(objects, `interval: "5s"`, `interval: "0s"`, 1)
	// The operator runs first: it answers the escalation check that admits our kinds. The
	// snapshot is timed from the quick start's apply, as a user sees it.
	fmt.Println("starting the operator")
	if err := b.startOperator(); err != nil {
		return 0, 0, err
	}
	// began is reused: from the quick start apply on.
	for _, ns := range []string{namespace, latencyNamespace} {
		deadline := time.Now().Add(60 * time.Second)
		for {
			if ns == namespace {
				began = time.Now()
			}
			_, err := b.Cluster.Kubectl(ctx, b.Cluster.Kubeconfig, objects, "apply", "-n", ns, "-f", "-")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return 0, 0, err
			}
			time.Sleep(100 * time.Millisecond)
		}
		objects = strings.Replace(objects, "path: live-cluster", "path: latency-folder", 1)
	}
	at, err := b.pushes.await(ctx, began, 120*time.Second, func(subject string) bool {
		return snapshotOf(subject, namespace, b.cfg.objects)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("waiting for the snapshot: %w", err)
	}
	if err := b.converged(ctx, namespace, folder); err != nil {
		return 0, 0, err
	}
	return at.Sub(began), reference, nil
}

// memory reads the operator's resident memory once it settled, and saves a heap profile as
// profile when asked to (after a collection, so it shows what is live, not a burst's garbage).
func (b *bench) memory(profile string) (float64, error) {
	time.Sleep(3 * time.Second) // let the snapshot's garbage go
	if b.cfg.pprof != "" {
		if err := exec.Command("curl", "-s", "-o", filepath.Join(b.dir, profile), "http://"+b.cfg.pprof+"/debug/pprof/heap?gc=1").Run(); err != nil {
			return 0, fmt.Errorf("saving a heap profile: %w", err)
		}
	}
	return b.status("VmRSS")
}

// status reads a memory figure of the operator's /proc status in MiB: VmRSS (resident now) or
// VmHWM (the most it was resident).
func (b *bench) status(name string) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.Operator.Pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in the operator's /proc status", name)
}

// snapshotOf says whether subject is the reconcile commit that wrote the objects of ns: the
// target may reconcile once before its WatchRule is attached, writing only the folder's
// .sops.yaml.
func snapshotOf(subject, ns string, objects int) bool {
	rest, ok := strings.CutPrefix(subject, "[RECONCILE] "+ns+"/")
	if !ok {
		return false
	}
	_, counts, ok := strings.Cut(rest, ": ")
	var written int
	_, err := fmt.Sscanf(counts, "%d written", &written)
	return ok && err == nil && written >= objects
}
