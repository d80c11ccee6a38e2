package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
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
		if _, err := b.clients.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		if _, err = b.clients.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "git-creds"},
			Data:       map[string][]byte{"ssh-privatekey": key.PrivateKeyPEM, "known_hosts": []byte(b.server.KnownHosts())},
		}, metav1.CreateOptions{}); err != nil {
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

// snapshot creates the ConfigMaps, then the quick start's objects with push.interval 0, then
// starts the operator, and measures until the snapshot's commit is on the remote. The reference
// is kubectl printing the same objects as YAML.
func (b *bench) snapshot(ctx context.Context) (time.Duration, time.Duration, error) {
	fmt.Printf("creating %d ConfigMaps, and %d for the latency figure\n", b.cfg.objects, b.cfg.writes)
	err := parallel(b.cfg.objects, 16, func(i int) error {
		_, err := b.clients.CoreV1().ConfigMaps(namespace).Create(ctx, configMap(fmt.Sprintf("cm-%d", i), "v1"), metav1.CreateOptions{})
		return err
	})
	if err == nil {
		err = parallel(b.cfg.writes, 16, func(i int) error {
			_, err := b.clients.CoreV1().ConfigMaps(latencyNamespace).Create(ctx, configMap(fmt.Sprintf("cm-%d", i), "v1"), metav1.CreateOptions{})
			return err
		})
	}
	if err != nil {
		return 0, 0, err
	}
	began := time.Now()
	cmd := exec.CommandContext(ctx, b.cluster.Env.Kubectl, "--kubeconfig", b.cluster.Kubeconfig, "get", "configmaps", "-n", namespace, "-o", "yaml")
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("kubectl get: %w", err)
	}
	reference := time.Since(began)

	objects, err := stack.QuickStartManifest(b.server.URL("bench"))
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
			_, err := b.cluster.Kubectl(ctx, b.cluster.Kubeconfig, objects, "apply", "-n", ns, "-f", "-")
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
		return strings.HasPrefix(subject, "[RECONCILE] "+namespace+"/")
	})
	if err != nil {
		return 0, 0, fmt.Errorf("waiting for the snapshot: %w", err)
	}
	if err := b.converged(ctx); err != nil {
		return 0, 0, err
	}
	return at.Sub(began), reference, nil
}

// memory reads the operator's resident memory once it settled, and its peak.
func (b *bench) memory() (float64, float64, error) {
	time.Sleep(3 * time.Second) // let the snapshot's garbage go
	if b.cfg.pprof != "" {
		if err := exec.Command("curl", "-s", "-o", filepath.Join(b.dir, "heap.pprof"), "http://"+b.cfg.pprof+"/debug/pprof/heap").Run(); err != nil {
			return 0, 0, fmt.Errorf("saving a heap profile: %w", err)
		}
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.operator.Pid()))
	if err != nil {
		return 0, 0, err
	}
	field := func(name string) float64 {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, name+":"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
				return kb / 1024
			}
		}
		return 0
	}
	return field("VmRSS"), field("VmHWM"), nil
}

type percentiles struct{ p50, p99, max time.Duration }

func summarize(d []time.Duration) percentiles {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return percentiles{p50: at(0.50), p99: at(0.99), max: d[len(d)-1]}
}

type latencies struct{ e2e, api percentiles }

// latency updates distinct ConfigMaps of ns at the configured rate and measures each write's time
// to its commit on the remote, and the write itself.
func (b *bench) latency(ctx context.Context, ns, value string) (latencies, error) {
	fmt.Printf("writing %d ConfigMaps of namespace %s at %d/s\n", b.cfg.writes, ns, b.cfg.rate)
	n := min(b.cfg.writes, b.cfg.objects)
	starts := make([]time.Time, n)
	apis := make([]time.Duration, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(b.cfg.rate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			starts[i] = time.Now()
			_, err := b.clients.CoreV1().ConfigMaps(ns).Update(ctx, configMap(fmt.Sprintf("cm-%d", i), value), metav1.UpdateOptions{})
			apis[i] = time.Since(starts[i])
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return latencies{}, err
	}
	last := fmt.Sprintf("[UPDATE] configmaps %s/cm-%d", ns, n-1)
	if _, err := b.pushes.await(ctx, starts[0], 60*time.Second, func(s string) bool { return s == last }); err != nil {
		return latencies{}, fmt.Errorf("waiting for %q: %w", last, err)
	}
	pushed, err := b.pushes.all(starts[0])
	if err != nil {
		return latencies{}, err
	}
	e2e := make([]time.Duration, n)
	for i := range n {
		subject := fmt.Sprintf("[UPDATE] configmaps %s/cm-%d", ns, i)
		at, ok := pushed[subject]
		if !ok {
			return latencies{}, fmt.Errorf("no commit %q on the remote", subject)
		}
		e2e[i] = at.Sub(starts[i])
	}
	return latencies{e2e: summarize(e2e), api: summarize(apis)}, nil
}

// restart kills the operator, changes objects while it is down, starts it, and measures until the
// folder on the remote equals the cluster again.
func (b *bench) restart(ctx context.Context) (time.Duration, error) {
	fmt.Printf("kill -9, then %d changes while the operator is down\n", restartChanges)
	b.operator.Kill()
	cms := b.clients.CoreV1().ConfigMaps(namespace)
	for i := range restartChanges / 2 {
		if _, err := cms.Update(ctx, configMap(fmt.Sprintf("cm-%d", b.cfg.objects-1-i), "while-down"), metav1.UpdateOptions{}); err != nil {
			return 0, err
		}
	}
	for i := range restartChanges / 4 {
		if err := cms.Delete(ctx, fmt.Sprintf("cm-%d", b.cfg.objects/2+i), metav1.DeleteOptions{}); err != nil {
			return 0, err
		}
		if _, err := cms.Create(ctx, configMap(fmt.Sprintf("new-%d", i), "while-down"), metav1.CreateOptions{}); err != nil {
			return 0, err
		}
	}
	began := time.Now()
	if err := b.startOperator(); err != nil {
		return 0, err
	}
	// The changes come back one commit each from Git's cursor, and the reconcile after them
	// finds nothing left: the restart is over when the remote holds them all.
	deadline := began.Add(120 * time.Second)
	for {
		err := b.converged(ctx)
		if err == nil {
			return time.Since(began), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("not converged 120s after the restart: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// converged checks that every ConfigMap of the namespace is on the remote, sanitized, and
// nothing else is: nothing lost, nothing stale.
func (b *bench) converged(ctx context.Context) error {
	list, err := b.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	want := map[string]string{}
	for i := range list.Items {
		data, err := manifest.Encode(manifest.Sanitize(&list.Items[i]))
		if err != nil {
			return err
		}
		want[folder+"/"+list.Items[i].GetName()+".yaml"] = gitwriter.BlobHash(data).String()
	}
	out, err := gitserver.Run(ctx, b.repoDir, nil, "ls-tree", "-r", branch, "--", folder)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// <mode> blob <hash>\t<path>
		meta, path, ok := strings.Cut(line, "\t")
		if !strings.HasSuffix(path, ".yaml") {
			continue // the push floor's file, which the operator leaves alone too
		}
		if f := strings.Fields(meta); ok && len(f) == 3 {
			got[path] = f[2]
		}
	}
	var problems []string
	for p, h := range want {
		if got[p] != h {
			problems = append(problems, "differs or missing: "+p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			problems = append(problems, "stale: "+p)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("the remote does not equal the cluster (%d problems), first: %s", len(problems), problems[0])
	}
	return nil
}

// pushLog is what the remote's post-receive hook recorded: when each push arrived, and which
// commits it brought.
type pushLog struct {
	path, repoDir string

	mu      sync.Mutex
	read    int                  // lines of the hook's log resolved so far
	arrived map[string]time.Time // commit subject → when its push arrived (first one wins)
	order   []pushedCommit
}

type pushedCommit struct {
	subject string
	at      time.Time
}

// recordPushes installs a post-receive hook in the bare repository that appends "<unix nanos>
// <old> <new>" per push: as little as possible, since receive-pack waits for the hook and a
// slow hook would slow every push down. Which commits a push brought is worked out afterwards.
func recordPushes(repoDir, logPath string) (*pushLog, error) {
	hook := `#!/bin/sh
now=$(date +%s%N)
while read old new ref; do echo "$now $old $new" >> '` + logPath + `'; done
`
	path := filepath.Join(repoDir, "hooks", "post-receive")
	if err := os.WriteFile(path, []byte(hook), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		return nil, err
	}
	return &pushLog{path: logPath, repoDir: repoDir, arrived: map[string]time.Time{}}, nil
}

// refresh resolves the pushes logged since the last call into their commits.
func (l *pushLog) refresh() error {
	data, err := os.ReadFile(l.path)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	for ; l.read < len(lines) && lines[l.read] != ""; l.read++ {
		f := strings.Fields(lines[l.read])
		if len(f) != 3 {
			return fmt.Errorf("unexpected hook line %q", lines[l.read])
		}
		nanos, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return err
		}
		at := time.Unix(0, nanos)
		args := []string{"log", "--format=%s", f[2]}
		if strings.Trim(f[1], "0") != "" {
			args = []string{"log", "--format=%s", f[1] + ".." + f[2]}
		}
		out, err := gitserver.Run(context.Background(), l.repoDir, nil, args...)
		if err != nil {
			return err
		}
		for _, subject := range strings.Split(strings.TrimSpace(out), "\n") {
			if _, seen := l.arrived[subject]; !seen {
				l.arrived[subject] = at
				l.order = append(l.order, pushedCommit{subject: subject, at: at})
			}
		}
	}
	return nil
}

// await polls for a commit whose subject matches, pushed after since.
func (l *pushLog) await(ctx context.Context, since time.Time, timeout time.Duration, match func(string) bool) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if err := l.refresh(); err != nil {
			return time.Time{}, err
		}
		l.mu.Lock()
		for _, c := range l.order {
			if c.at.After(since) && match(c.subject) {
				l.mu.Unlock()
				return c.at, nil
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			return time.Time{}, errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// all maps the subjects of the commits pushed after since to when they arrived.
func (l *pushLog) all(since time.Time) (map[string]time.Time, error) {
	if err := l.refresh(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]time.Time{}
	for _, c := range l.order {
		if _, seen := out[c.subject]; !seen && c.at.After(since) {
			out[c.subject] = c.at
		}
	}
	return out, nil
}
