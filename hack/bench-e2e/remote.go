package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

// The remote figure's namespace (in both clusters), kubeconfig Secret and folder.
const (
	remoteNamespace = "remote"
	remoteSecret    = "edge-kubeconfig"
	remoteFolder    = "remote-folder"
	remoteToken     = "bench-audit-token"
)

type remoteFigures struct {
	latency latencies
	// rss is what the operator's resident memory grew by once the remote cluster's target
	// took its snapshot of b.cfg.writes ConfigMaps.
	rss float64
	// attributed is how many of the latency figure's commits name their author (through the
	// remote cluster's audit webhook), of b.cfg.writes.
	attributed int
}

// remote starts a second control plane whose audit webhook posts to the operator, a GitTarget
// with its kubeconfig in a folder of its own on the same branch, and measures the same
// write-to-commit latency as the local figure, on that cluster.
func (b *bench) remote(ctx context.Context) (remoteFigures, error) {
	var f remoteFigures
	fmt.Println("starting a second control plane, the remote cluster")
	edge, err := stack.Start(ctx, stack.Options{
		Dir:      b.Path("edge"),
		AuditURL: b.Cluster.URL(attribution.ClusterAuditPath + remoteNamespace + "/" + remoteSecret), AuditCA: b.Cluster.CAPEM, AuditToken: remoteToken,
	})
	if err != nil {
		return f, err
	}
	defer edge.Stop()
	cfg := rest.CopyConfig(edge.Env.Config)
	cfg.QPS, cfg.Burst = 5000, 5000
	clients, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return f, err
	}
	if _, err := clients.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: remoteNamespace}}, metav1.CreateOptions{}); err != nil {
		return f, err
	}
	if err := parallel(b.cfg.writes, 16, func(i int) error {
		_, err := clients.CoreV1().ConfigMaps(remoteNamespace).Create(ctx, configMap(fmt.Sprintf("cm-%d", i), "v1"), metav1.CreateOptions{})
		return err
	}); err != nil {
		return f, err
	}
	if err := b.Namespace(ctx, remoteNamespace); err != nil {
		return f, err
	}
	kubeconfig, err := os.ReadFile(edge.Kubeconfig)
	if err != nil {
		return f, err
	}
	if _, err := b.Clients.CoreV1().Secrets(remoteNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: remoteSecret},
		Data:       map[string][]byte{"value": kubeconfig, "audit-token": []byte(remoteToken)},
	}, metav1.CreateOptions{}); err != nil {
		return f, err
	}
	before, err := b.status("VmRSS")
	if err != nil {
		return f, err
	}
	objects, err := stack.QuickStartManifest(b.Server.URL("bench"))
	if err != nil {
		return f, err
	}
	objects = strings.Replace(objects, `interval: "5s"`, `interval: "0s"`, 1)
	objects = strings.Replace(objects, "  path: live-cluster\n", "  path: "+remoteFolder+"\n  kubeConfig:\n    secretRef:\n      name: "+remoteSecret+"\n", 1)
	began := time.Now()
	if _, err := b.Cluster.Kubectl(ctx, b.Cluster.Kubeconfig, objects, "apply", "-n", remoteNamespace, "-f", "-"); err != nil {
		return f, err
	}
	if _, err := b.pushes.await(ctx, began, 120*time.Second, func(subject string) bool {
		return snapshotOf(subject, remoteNamespace, b.cfg.writes)
	}); err != nil {
		return f, fmt.Errorf("waiting for the remote cluster's snapshot: %w", err)
	}
	time.Sleep(3 * time.Second) // as memory does: let the snapshot's garbage go
	after, err := b.status("VmRSS")
	if err != nil {
		return f, err
	}
	f.rss = after - before
	from := time.Now()
	if f.latency, err = b.latencyAt(ctx, clients, remoteNamespace, "latency", b.cfg.writes, b.cfg.rate); err != nil {
		return f, err
	}
	out, err := gitserver.Run(ctx, b.dir, nil, "-C", b.RepoDir, "log", "--since=@"+fmt.Sprint(from.Unix()-1), "--format=%an %s", branch, "--", remoteFolder)
	if err != nil {
		return f, err
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "[UPDATE] configmaps "+remoteNamespace+"/") && !strings.HasPrefix(line, "unattributed ") {
			f.attributed++
		}
	}
	return f, nil
}
