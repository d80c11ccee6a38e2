package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

const (
	ns      = "chaos"
	branch  = "test-gitops-reverser"
	objects = 20
)

type harness struct {
	t        *testing.T
	cl       *stack.Replicated
	repo     *gitserver.SSHRepo
	extra    []string
	replicas map[string]*stack.Replica
}

func (h *harness) kubectl(stdin string, args ...string) string {
	h.t.Helper()
	cmd := exec.CommandContext(h.t.Context(), h.cl.Env.Kubectl, append([]string{"--kubeconfig", h.cl.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (h *harness) start(name string) {
	h.t.Helper()
	r, err := h.cl.StartReplica(operator, name, h.extra...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.replicas[name] = r
	if err := r.WaitReady(h.t.Context(), 60*time.Second); err != nil {
		h.t.Fatal(err)
	}
}

// leader waits for the replica that holds the Lease.
func (h *harness) leader() *stack.Replica {
	h.t.Helper()
	var found *stack.Replica
	NewWithT(h.t).Eventually(func() *stack.Replica {
		for _, r := range h.replicas {
			if r.Leading() {
				found = r
				return r
			}
		}
		return nil
	}).WithTimeout(60 * time.Second).WithPolling(100 * time.Millisecond).ShouldNot(BeNil())
	return found
}

// kill takes a replica down as a crash does: kill -9, and out of the Service.
func (h *harness) kill(r *stack.Replica) {
	r.Kill()
	if err := r.Unpublish(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// tip is the remote branch's commit; forward checks that the branch only moved forward since.
func (h *harness) tip() string {
	return strings.TrimSpace(gitserver.Git(h.t, h.repo.Dir, "rev-parse", branch))
}

func (h *harness) forward(since string) {
	h.t.Helper()
	cmd := exec.Command("git", "-C", h.repo.Dir, "merge-base", "--is-ancestor", since, branch)
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("the branch moved from %s to a commit that does not contain it (a force-push): %v", since, err)
	}
}

// firstCommitAfter waits until the remote has a commit of a change made after at, and returns
// how long after at that was.
func (h *harness) firstCommitAfter(l *load, at time.Time) time.Duration {
	h.t.Helper()
	from := h.tip()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		after := map[string]bool{}
		for _, w := range l.since(at) {
			if w.err == nil {
				after[w.name+"@"+w.rv] = true
			}
		}
		for _, c := range remoteCommitsSince(h.t, h.repo.Dir, branch, from) {
			if name, ok := objectOf(c.subject, ns); ok && after[name+"@"+c.rv] {
				return time.Since(at)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("no change made after %s reached the remote within 2 minutes", at.Format(time.RFC3339))
	return 0
}

func TestChaos(t *testing.T) {
	g := NewWithT(t)
	sz := sizeFromEnv(t)
	cl, err := stack.StartReplicated(t.Context(), t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = cl.Stop() })
	h := &harness{t: t, cl: cl, repo: gitserver.NewSSHRepo(t, "chaos"), replicas: map[string]*stack.Replica{},
		extra: []string{
			"--leader-election-lease-duration=" + sz.lease.String(), "--leader-election-renew-deadline=" + sz.renew.String(),
			"--leader-election-retry-period=" + sz.try.String(), "--cluster-name=chaos",
		}}
	t.Cleanup(func() {
		for _, r := range h.replicas {
			_ = r.Stop(20 * time.Second)
			if t.Failed() {
				t.Logf("replica %s (last lines):\n%s", r.Name, strings.Join(stack.LogTail(r.Log, 40), "\n"))
			}
		}
	})
	for _, name := range []string{"a", "b", "c"} {
		h.start(name)
	}

	// The seed's quick start, pushing every commit at once.
	h.kubectl("", "create", "namespace", ns)
	key := filepath.Join(t.TempDir(), "key")
	g.Expect(os.WriteFile(key, h.repo.Key.PrivateKeyPEM, 0o600)).To(Succeed())
	h.kubectl(h.kubectl("", "create", "secret", "generic", "git-creds", "-n", ns, "--from-file=ssh-privatekey="+key,
		"--from-literal=known_hosts="+h.repo.Server.KnownHosts(), "--dry-run=client", "-o", "yaml"), "apply", "-f", "-")
	manifest, err := stack.QuickStartManifest(h.repo.URL)
	g.Expect(err).NotTo(HaveOccurred())
	h.kubectl(strings.Replace(manifest, `interval: "5s"`, `interval: "0s"`, 1), "apply", "-n", ns, "-f", "-")
	h.kubectl("", "create", "role", "writers", "-n", ns, "--verb=get,list,watch,patch,update", "--resource=configmaps")
	var users []writer
	for _, name := range []string{"alice", "bob"} {
		h.kubectl("", "create", "rolebinding", name, "-n", ns, "--role=writers", "--user="+name)
		cfg, err := cl.Env.UserConfig(name)
		g.Expect(err).NotTo(HaveOccurred())
		cfg.QPS, cfg.Burst = -1, 0
		client, err := kubernetes.NewForConfig(cfg)
		g.Expect(err).NotTo(HaveOccurred())
		users = append(users, writer{name: name, client: client})
	}
	for i := range objects {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("load-%d", i), Namespace: ns}, Data: map[string]string{"seq": "-"}}
		g.Expect(cl.Env.Client.Create(t.Context(), cm)).To(Succeed())
	}
	inGit := func() int {
		n := 0
		for _, c := range remoteCommits(t, h.repo.Dir, branch) {
			if strings.HasPrefix(c.subject, "[CREATE] configmaps "+ns+"/load-") || strings.HasPrefix(c.subject, "[RECONCILE]") {
				n++
			}
		}
		return n
	}
	g.Eventually(inGit).WithTimeout(90 * time.Second).Should(BeNumerically(">=", 1))
	g.Eventually(func() int { return len(filesIn(t, h.repo.Dir, "live-cluster/"+ns+"/configmaps")) }).WithTimeout(60 * time.Second).Should(Equal(objects))
	start := h.tip()

	l := startLoad(context.Background(), ns, objects, sz.rate, users)
	time.Sleep(5 * time.Second)
	steady := l.since(time.Time{})
	steadyPeerFacts := h.leader().Metric("gitops_reverser_attribution_peer_facts_total")

	// kill -9 of the leader, again and again; a new replica takes the dead one's place.
	var failovers []time.Duration
	for k := range sz.kills {
		victim := h.leader()
		at := time.Now()
		t.Logf("killing leader %s at %s", victim.Name, at.Format(time.RFC3339Nano))
		h.kill(victim)
		failovers = append(failovers, h.firstCommitAfter(l, at))
		h.forward(start)
		h.start(fmt.Sprintf("r%d", k))
		delete(h.replicas, victim.Name)
	}

	// The Git server down, then back on the same address.
	t.Logf("Git down at %s", time.Now().Format(time.RFC3339Nano))
	g.Expect(h.repo.Server.Stop()).To(Succeed())
	time.Sleep(sz.gitDown)
	g.Expect(h.repo.Server.Start()).To(Succeed())
	h.firstCommitAfter(l, time.Now())
	h.forward(start)

	// Every replica down: the webhooks unreachable, nobody writing; then all back.
	t.Logf("all down at %s", time.Now().Format(time.RFC3339Nano))
	var names []string
	for name, r := range h.replicas {
		h.kill(r)
		names = append(names, name)
	}
	sort.Strings(names)
	time.Sleep(sz.allDown)
	h.replicas = map[string]*stack.Replica{}
	for _, name := range names {
		h.start(name + "-again")
	}
	h.firstCommitAfter(l, time.Now())
	writes := l.Stop()

	// Converged: each ConfigMap's file says what the cluster says.
	want := map[string]string{}
	for i := range objects {
		cm := &corev1.ConfigMap{}
		g.Expect(cl.Env.Client.Get(t.Context(), keyOf(ns, fmt.Sprintf("load-%d", i)), cm)).To(Succeed())
		want[fmt.Sprintf("live-cluster/%s/configmaps/load-%d.yaml", ns, i)] = cm.Data["seq"]
	}
	g.Eventually(func() map[string]string { return seqs(filesIn(t, h.repo.Dir, "live-cluster/"+ns+"/configmaps")) }).
		WithTimeout(2 * time.Minute).Should(Equal(want))
	h.forward(start)

	a := check(remoteCommits(t, h.repo.Dir, branch), writes, ns)
	errs := 0
	var slowest time.Duration
	for _, w := range writes {
		if w.err != nil {
			errs++
			t.Logf("API write failed: %s by %s: %v", w.name, w.user, w.err)
		}
		slowest = max(slowest, w.took)
	}
	sort.Slice(failovers, func(i, j int) bool { return failovers[i] < failovers[j] })
	p50, worst := 0.0, 0.0
	if len(failovers) > 0 {
		p50, worst = failovers[len(failovers)/2].Seconds(), failovers[len(failovers)-1].Seconds()
	}
	fmt.Printf("chaos: kills=%d lost=%d duplicated=%d failover_p50_s=%.1f failover_max_s=%.1f api_write_errors=%d\n",
		len(failovers), a.lost, a.duplicated, p50, worst, errs)
	t.Logf("writes=%d unattributed=%d misattributed=%d slowest_write=%s lease=%s", len(writes), a.unattributed, a.misattributed, slowest, sz.lease)

	if a.duplicated > 0 {
		t.Logf("history:\n%s", gitserver.Git(t, h.repo.Dir, "log", "--reverse", "--format=%h %cI %s rv=%(trailers:key=Kubernetes-Resource-Version,valueonly,separator=) "+
			"w=%(trailers:key=Kubernetes-Watermark,valueonly,separator=) n=%(trailers:key=Kubernetes-Newest-Resource-Version,valueonly,separator=) "+
			"%(trailers:key=Kubernetes-User,valueonly,separator=)", branch))
		for _, r := range h.replicas {
			for _, line := range stack.LogTail(r.Log, 100000) {
				if strings.Contains(line, "Resuming") || strings.Contains(line, "lost") || strings.Contains(line, "replaying") || strings.Contains(line, "Reconciled folder") {
					t.Logf("%s: %s", r.Name, line)
				}
			}
		}
	}
	g.Expect(a.lost).To(BeZero(), "every write is a commit of its own, or folded into one that says so")
	g.Expect(a.duplicated).To(BeZero(), "no change is committed twice on the remote")
	g.Expect(errs).To(BeZero(), "the operator never fails an API write")
	g.Expect(a.misattributed).To(BeZero(), "an author is never guessed")
	// Before anything broke, every change was committed once and by its writer, whichever
	// replica the API server's call reached: the leader took the other replicas' facts. (How many
	// arrived within --attribution-wait depends on the machine's load, so it is logged, not
	// asserted.)
	first := check(remoteCommits(t, h.repo.Dir, branch), steady, ns)
	t.Logf("steady phase: writes=%d unattributed=%d", len(steady), first.unattributed)
	first.unattributed = 0
	g.Expect(first).To(Equal(audit{}))
	g.Expect(steadyPeerFacts).To(BeNumerically(">", 0), "the leader read facts from the other replicas")
}
