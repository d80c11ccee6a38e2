// Command bench-apply measures the Git → cluster direction as DESIGN.md §9 names the figures,
// side by side in one run with `kubectl apply --server-side -R -f` of the same folder: applying
// 1,000 manifests (ConfigMaps and Deployments) into an empty namespace, a no-op re-apply (and that
// no object's resourceVersion changed), and drift correction latency. It runs the operator's binary
// in the file-config mode against a real API server and a Git repository, and ends with one line:
//
//	bench-apply: apply_1k_s=<n> kubectl_1k_s=<n> noop_1k_s=<n> drift_p50_ms=<n> drift_p99_ms=<n>
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

const (
	oursNS    = "apply-ours"
	kubectlNS = "apply-kubectl"
	folder    = "bench"
)

func main() {
	objects := flag.Int("objects", 1000, "Manifests in the folder, half ConfigMaps, half Deployments.")
	drifts := flag.Int("drifts", 100, "Drift corrections measured.")
	keep := flag.Bool("keep", false, "Keep the working directory (operator log, repository).")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *objects, *drifts, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench-apply:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, objects, drifts int, keep bool) error {
	dir, err := os.MkdirTemp("", "bench-apply-")
	if err != nil {
		return err
	}
	defer func() {
		if keep {
			fmt.Println("kept", dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	}()
	fmt.Println("starting a control plane and building the operator")
	binary, err := stack.BuildOperator(ctx, mkdir(dir, "bin"), false)
	if err != nil {
		return err
	}
	env, err := controlplane.Start(ctx, controlplane.Options{})
	if err != nil {
		return err
	}
	defer env.Stop()
	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 1000, 1000
	clients, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, ns := range []string{oursNS, kubectlNS} {
		if _, err := clients.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}

	// The reference: kubectl applies the folder, as a person or a CI job would.
	files := manifests(objects)
	local := mkdir(dir, "folder")
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(local, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	start := time.Now()
	if out, err := exec.CommandContext(ctx, env.Kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-R", "-f", local, "-n", kubectlNS).CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl apply: %w\n%s", err, out)
	}
	kubectlTook := time.Since(start)
	fmt.Printf("kubectl apply --server-side -R -f: %d manifests in %.2fs\n", objects, kubectlTook.Seconds())

	// Ours: the operator in the file-config mode watches an empty folder; then the folder's commit
	// is pushed, and the clock runs until every object is in the cluster.
	repo, err := gitserver.InitBareRepo(ctx, mkdir(dir, "git"), "bench")
	if err != nil {
		return err
	}
	if _, err := pushFolder(ctx, dir, repo, map[string]string{folder + "/README.md": "applied from Git\n"}); err != nil {
		return err
	}
	work := mkdir(dir, "run")
	config := "rules:\n- resources: [configmaps, deployments]\n  syncTo: kubernetes\n"
	if err := os.WriteFile(filepath.Join(work, "config.yaml"), []byte(config), 0o600); err != nil {
		return err
	}
	logPath := filepath.Join(dir, "operator.log")
	op, err := stack.StartOperatorIn(work, []string{"HOME=" + dir, "XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}, binary, kubeconfig, logPath,
		"file://"+repo, "--path", folder, "--interval", "200ms", "--inventory-namespace", oursNS, "--zap-log-level", "info")
	if err != nil {
		return err
	}
	defer func() { _ = op.Stop(30 * time.Second) }()
	if _, err := awaitPass(ctx, logPath, 0, func(p pass) bool { return true }); err != nil {
		return fmt.Errorf("%w (operator log: %s)", err, logPath)
	}
	inGit := map[string]string{}
	for name, content := range files {
		inGit[folder+"/"+name] = content
	}
	if _, err := pushFolder(ctx, dir, repo, inGit); err != nil {
		return err
	}
	start = time.Now() // from the moment the commit is on the remote
	if err := awaitObjects(ctx, clients, oursNS, objects); err != nil {
		return err
	}
	applyTook := time.Since(start)
	first, err := awaitPass(ctx, logPath, 0, func(p pass) bool { return p.Created > 0 })
	if err != nil {
		return err
	}
	fmt.Printf("gitops-reverser: pushed commit of %d manifests to all in the cluster in %.2fs (the pass itself: %s, %d created; polling every 200ms)\n",
		objects, applyTook.Seconds(), first.Took, first.Created)

	// No-op: the next passes over the same revision write nothing.
	before, err := versions(ctx, clients, oursNS)
	if err != nil {
		return err
	}
	noop, err := awaitPass(ctx, logPath, first.line, func(p pass) bool { return p.Unchanged == objects })
	if err != nil {
		return err
	}
	// After a restart nothing is known to be clean: every object is dry-run again.
	if err := op.Stop(30 * time.Second); err != nil {
		return err
	}
	lines := countLines(logPath)
	op, err = stack.StartOperatorIn(work, []string{"HOME=" + dir, "XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}, binary, kubeconfig, logPath,
		"file://"+repo, "--path", folder, "--interval", "200ms", "--inventory-namespace", oursNS, "--zap-log-level", "info")
	if err != nil {
		return err
	}
	cold, err := awaitPass(ctx, logPath, lines, func(p pass) bool { return p.Unchanged == objects })
	if err != nil {
		return err
	}
	after, err := versions(ctx, clients, oursNS)
	if err != nil {
		return err
	}
	changed := 0
	for name, rv := range before {
		if after[name] != rv {
			changed++
		}
	}
	fmt.Printf("no-op re-apply of %d manifests: %s in the running operator, %s after a restart (every object dry-run); resourceVersions changed: %d\n",
		objects, noop.Took, cold.Took, changed)
	if changed > 0 {
		return fmt.Errorf("a no-op re-apply changed %d objects", changed)
	}

	lat, err := driftLatency(ctx, clients, drifts)
	if err != nil {
		return fmt.Errorf("%w (operator log: %s)", err, logPath)
	}
	fmt.Printf("drift: %d edits of an applied ConfigMap put back, p50 %.0fms p99 %.0fms max %.0fms\n", drifts, ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]))
	fmt.Printf("bench-apply: apply_1k_s=%.2f kubectl_1k_s=%.2f noop_1k_s=%.3f drift_p50_ms=%.0f drift_p99_ms=%.0f\n",
		applyTook.Seconds(), kubectlTook.Seconds(), noop.Took.Seconds(), ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mkdir(dir, name string) string {
	p := filepath.Join(dir, name)
	_ = os.MkdirAll(p, 0o700)
	return p
}

// manifests is the folder: half ConfigMaps, half Deployments, one file each, no namespace.
func manifests(n int) map[string]string {
	out := map[string]string{}
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			out[fmt.Sprintf("cm-%04d.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%04d\ndata:\n  key: value-%d\n", i, i)
			continue
		}
		out[fmt.Sprintf("deploy-%04d.yaml", i)] = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: deploy-%04d
spec:
  replicas: 1
  selector:
    matchLabels: {app: deploy-%04d}
  template:
    metadata:
      labels: {app: deploy-%04d}
    spec:
      containers:
        - name: app
          image: registry.example/app:%d
`, i, i, i, i)
	}
	return out
}

func pushFolder(ctx context.Context, dir, repo string, files map[string]string) (string, error) {
	tmp, err := os.MkdirTemp(dir, "push-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	return gitserver.PushFilesContext(ctx, tmp, repo, "main", "manifests", files)
}

func awaitObjects(ctx context.Context, clients kubernetes.Interface, ns string, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		cms, err := clients.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		deps, err := clients.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(cms.Items)+len(deps.Items) >= n {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the objects did not all arrive within 5 minutes")
}

func versions(ctx context.Context, clients kubernetes.Interface, ns string) (map[string]string, error) {
	out := map[string]string{}
	cms, err := clients.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, c := range cms.Items {
		out["cm/"+c.Name] = c.ResourceVersion
	}
	deps, err := clients.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, d := range deps.Items {
		out["deploy/"+d.Name] = d.ResourceVersion
	}
	return out, nil
}

// driftLatency edits applied ConfigMaps one after another and times each until the watch shows it
// put back.
func driftLatency(ctx context.Context, clients kubernetes.Interface, n int) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("cm-%04d", (i*2)%1000)
		w, err := clients.CoreV1().ConfigMaps(oursNS).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			return nil, err
		}
		want := fmt.Sprintf("value-%d", (i*2)%1000)
		start := time.Now()
		if _, err := clients.CoreV1().ConfigMaps(oursNS).Patch(ctx, name, types.MergePatchType, []byte(`{"data":{"key":"drifted"}}`), metav1.PatchOptions{}); err != nil {
			w.Stop()
			return nil, err
		}
		timeout := time.After(30 * time.Second)
		var took time.Duration
	watching:
		for {
			select {
			case e := <-w.ResultChan():
				if cm, ok := e.Object.(*corev1.ConfigMap); ok && cm.Data["key"] == want && took == 0 && time.Since(start) > 0 {
					if cm.ResourceVersion != "" {
						took = time.Since(start)
						break watching
					}
				}
			case <-timeout:
				w.Stop()
				return nil, fmt.Errorf("%s was not put back within 30s", name)
			}
		}
		w.Stop()
		out = append(out, took)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// pass is one "Applied revision" line of the operator's log.
type pass struct {
	line               int
	Created, Unchanged int
	Took               time.Duration
}

// awaitPass waits for the first pass logged after line `after` that match accepts.
func awaitPass(ctx context.Context, logPath string, after int, match func(pass) bool) (pass, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		f, err := os.Open(logPath)
		if err != nil {
			return pass{}, err
		}
		scanner := bufio.NewScanner(f)
		scanner.Buffer(make([]byte, 1<<20), 1<<24)
		for n := 0; scanner.Scan(); n++ {
			if n < after || !strings.Contains(scanner.Text(), `"Applied revision"`) {
				continue
			}
			var rec struct {
				Created, Unchanged int
				Took               string
			}
			if json.Unmarshal(scanner.Bytes(), &rec) != nil {
				continue
			}
			took, _ := time.ParseDuration(rec.Took)
			p := pass{line: n + 1, Created: rec.Created, Unchanged: rec.Unchanged, Took: took}
			if match(p) {
				f.Close()
				return p, nil
			}
		}
		f.Close()
		time.Sleep(50 * time.Millisecond)
	}
	return pass{}, errors.New("no matching apply pass in the operator's log within 2 minutes")
}

func countLines(path string) int {
	data, _ := os.ReadFile(path)
	return strings.Count(string(data), "\n")
}
