package chaos

import (
	"context"
	"fmt"
	"os"
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

func TestChaos(t *testing.T) {
	g := NewWithT(t)
	sz := sizeFromEnv(t)
	cl, err := stack.StartReplicated(t.Context(), t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = cl.Stop() })
	h := &harness{t: t, cl: cl, repo: gitserver.NewSSHRepo(t, "chaos"), replicas: map[string]*stack.Replica{},
		extra: []string{
			"--leader-election-lease-duration=" + sz.lease.String(), "--leader-election-renew-deadline=" + sz.renew.String(),
			"--leader-election-retry-period=" + sz.try.String(), "--cluster-name=chaos", "--zap-log-level=" + sz.logLevel,
		}}
	t.Cleanup(func() {
		for _, r := range h.replicas {
			_ = r.Stop(20 * time.Second)
		}
		if t.Failed() {
			h.keepLogs()
		}
	})
	for range 3 {
		h.startReplica()
	}

	// The seed's quick start, pushing every commit at once and fetching for Git → cluster every
	// 2s; a rule that applies the ConfigMaps labelled sync=kube from Git.
	h.kubectl("", "create", "namespace", ns)
	key := filepath.Join(t.TempDir(), "key")
	g.Expect(os.WriteFile(key, h.repo.Key.PrivateKeyPEM, 0o600)).To(Succeed())
	h.kubectl(h.kubectl("", "create", "secret", "generic", "git-creds", "-n", ns, "--from-file=ssh-privatekey="+key,
		"--from-literal=known_hosts="+h.repo.Server.KnownHosts(), "--dry-run=client", "-o", "yaml"), "apply", "-f", "-")
	manifest, err := stack.QuickStartManifest(h.repo.URL)
	g.Expect(err).NotTo(HaveOccurred())
	h.kubectl(strings.Replace(manifest, `interval: "5s"`, `interval: "0s"`, 1), "apply", "-n", ns, "-f", "-")
	h.kubectl("", "patch", "gittarget", "to-folder-live-cluster", "-n", ns, "--type=merge", "-p", `{"spec":{"interval":"2s"}}`)
	h.kubectl(fromGit, "apply", "-n", ns, "-f", "-")
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
	g.Eventually(func() int { return len(filesIn(t, h.repo.Dir, "live-cluster/"+ns+"/configmaps")) }).WithTimeout(90 * time.Second).Should(Equal(objects))
	h.start = h.tip()
	admin, err := kubernetes.NewForConfig(cl.Env.Config)
	g.Expect(err).NotTo(HaveOccurred())
	h.git, err = startGitLoad(context.Background(), h.repo.Dir, t.TempDir(), sz.gitRate, admin)
	g.Expect(err).NotTo(HaveOccurred())

	h.load = startLoad(context.Background(), ns, objects, sz.rate, users)
	time.Sleep(5 * time.Second)
	steady := h.load.since(time.Time{})
	steadyPeerFacts := h.leader().Metric("gitops_reverser_attribution_peer_facts_total")
	h.settled("the steady start")

	failovers := h.killLeaders(sz.kills)
	h.gitDown(sz.gitDown)
	h.apiServerRestart()
	h.allDown(sz.allDown)

	writes := h.load.Stop()
	people := h.git.Stop()
	h.settled("the loads stopped")

	commits := remoteCommits(t, h.repo.Dir, branch)
	a := check(commits, writes, ns)
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
	t.Logf("writes=%d unattributed=%d misattributed=%d slowest_write=%s lease=%s git_commits=%d git_push_gave_up=%d drifts=%d",
		len(writes), a.unattributed, a.misattributed, slowest, sz.lease, len(people), h.git.failed, h.git.drifts)

	for _, w := range a.missing {
		t.Logf("lost: %s@%s by %s at %s", w.name, w.rv, w.user, w.at.Format(time.RFC3339Nano))
	}
	if a.duplicated > 0 || a.lost > 0 {
		t.Logf("history:\n%s", gitserver.Git(t, h.repo.Dir, "log", "--reverse", "--format=%h %cI %s rv=%(trailers:key=Kubernetes-Resource-Version,valueonly,separator=) "+
			"w=%(trailers:key=Kubernetes-Watermark,valueonly,separator=) n=%(trailers:key=Kubernetes-Newest-Resource-Version,valueonly,separator=) "+
			"%(trailers:key=Kubernetes-User,valueonly,separator=) %(trailers:key=Reconcile-Reason,valueonly,separator=)", branch))
		h.decisions()
	}
	g.Expect(a.lost).To(BeZero(), "every write is a commit of its own, or folded into one that says so")
	g.Expect(a.duplicated).To(BeZero(), "no change is committed twice on the remote")
	g.Expect(errs).To(BeZero(), "the operator never fails an API write")
	g.Expect(a.misattributed).To(BeZero(), "an author is never guessed")
	onRemote := map[string]bool{}
	for _, c := range commits {
		onRemote[c.hash] = true
	}
	for _, c := range people {
		g.Expect(onRemote[c]).To(BeTrue(), "the person's commit %s is on the remote branch", c)
	}
	for _, c := range commits {
		g.Expect(c.subject).NotTo(ContainSubstring(ns+"/applied-"), "the ConfigMaps applied from Git are not captured back")
	}
	g.Expect(len(people)).To(BeNumerically(">", 1), "the person kept committing")
	// Before anything broke, every change was committed once and by its writer, whichever
	// replica the API server's call reached: the leader took the other replicas' facts. (How many
	// arrived within --attribution-wait depends on the machine's load, so it is logged, not
	// asserted.)
	first := check(commits, steady, ns)
	t.Logf("steady phase: writes=%d unattributed=%d", len(steady), first.unattributed)
	first.unattributed = 0
	g.Expect(first).To(Equal(audit{}))
	g.Expect(steadyPeerFacts).To(BeNumerically(">", 0), "the leader read facts from the other replicas")
}
