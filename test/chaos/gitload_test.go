package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// fromGit applies the ConfigMaps labelled sync=kube from the quick start's folder. Its name
// sorts before the quick start's WatchRule, so its rule comes first for them: every other
// ConfigMap is still written to Git.
const fromGit = `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: from-git
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - resources: [configmaps]
      labels:
        matchLabels:
          sync: kube
      syncTo: kubernetes
`

// applied is how many ConfigMaps the Git → cluster side owns: applied-0 … applied-<n-1>.
const applied = 4

func appliedFile(i int) string { return fmt.Sprintf("live-cluster/apps/applied-%d.yaml", i) }

func appliedManifest(i int, seq string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied-%d\n  labels:\n    sync: kube\ndata:\n  seq: %q\n", i, seq)
}

// gitLoad is the Git → cluster half of the load: a person committing a new seq to one applied
// ConfigMap's file at a steady rate, and someone changing another one in the cluster behind Git's
// back (drift), which the operator must put back.
type gitLoad struct {
	mu      sync.Mutex
	gate    sync.RWMutex
	want    map[string]string // ConfigMap name → the seq its file last got
	commits []string          // the person's commits that reached the remote
	failed  int               // pushes the person gave up on (the operator kept winning the race)
	drifts  int
	stop    context.CancelFunc
	done    chan struct{}
}

// startGitLoad pushes every applied file once, then changes them at rate commits per second
// (0: only the first push) and drifts one ConfigMap per commit. tmp is scratch space.
func startGitLoad(ctx context.Context, bareDir, tmp string, rate int, admin kubernetes.Interface) (*gitLoad, error) {
	g := &gitLoad{want: map[string]string{}, done: make(chan struct{})}
	first := map[string]string{}
	for i := range applied {
		first[appliedFile(i)] = appliedManifest(i, "git-0")
		g.want[fmt.Sprintf("applied-%d", i)] = "git-0"
	}
	// A person with a clone of the repository, committing with the git CLI.
	someone, err := gitserver.OpenWorkTree(ctx, tmp, bareDir, branch)
	if err != nil {
		return nil, err
	}
	c, err := someone.Commit(ctx, "the applied ConfigMaps, by a person", first)
	if err != nil {
		return nil, err
	}
	g.commits = append(g.commits, c)
	ctx, g.stop = context.WithCancel(ctx)
	if rate == 0 {
		close(g.done)
		return g, nil
	}
	go func() {
		defer close(g.done)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			g.gate.RLock()
			g.step(ctx, someone, n, admin)
			g.gate.RUnlock()
		}
	}()
	return g, nil
}

func (g *gitLoad) step(ctx context.Context, someone *gitserver.WorkTree, n int, admin kubernetes.Interface) {
	name, seq := fmt.Sprintf("applied-%d", n%applied), fmt.Sprintf("git-%d", n)
	c, err := someone.Commit(ctx, "applied: "+name+" to "+seq, map[string]string{appliedFile(n % applied): appliedManifest(n%applied, seq)})
	g.mu.Lock()
	if err == nil {
		g.want[name] = seq
		g.commits = append(g.commits, c)
	} else if ctx.Err() == nil {
		g.failed++
	}
	g.mu.Unlock()
	drifted := fmt.Sprintf("applied-%d", (n+applied/2)%applied)
	patch := fmt.Sprintf(`{"data":{"seq":"drift-%d"}}`, n)
	if _, err := admin.CoreV1().ConfigMaps(ns).Patch(ctx, drifted, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err == nil {
		g.mu.Lock()
		g.drifts++
		g.mu.Unlock()
	}
}

// pause waits for the step under way and holds the next; resume lets them go on.
func (g *gitLoad) pause()  { g.gate.Lock() }
func (g *gitLoad) resume() { g.gate.Unlock() }

// wanted is what the cluster must converge to: each applied ConfigMap's seq in Git.
func (g *gitLoad) wanted() map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]string, len(g.want))
	for k, v := range g.want {
		out[k] = v
	}
	return out
}

// Stop ends the load and returns the person's commits on the remote.
func (g *gitLoad) Stop() []string {
	g.stop()
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.commits...)
}
