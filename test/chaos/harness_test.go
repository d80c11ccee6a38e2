package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

// harness is the replicas, the cluster and the remote of one chaos run, and the loads on them.
type harness struct {
	t        *testing.T
	cl       *stack.Replicated
	repo     *gitserver.SSHRepo
	extra    []string
	replicas map[string]*stack.Replica
	all      []*stack.Replica // every replica started, for their logs
	started  int              // replicas started so far, for their names
	start    string
	load     *load
	git      *gitLoad
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

// startReplica starts one more replica and waits until it is ready and in the Service.
func (h *harness) startReplica() {
	h.t.Helper()
	name := fmt.Sprintf("r%d", h.started)
	h.started++
	r, err := h.cl.StartReplica(operator, name, h.extra...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.replicas[name] = r
	h.all = append(h.all, r)
	if err := r.WaitReady(h.t.Context(), 60*time.Second); err != nil {
		h.t.Fatal(err)
	}
}

// decisions logs what every replica, dead or alive, said about resuming, re-lists and
// reconciles, for a failure's message.
func (h *harness) decisions() {
	for _, r := range h.all {
		for _, line := range stack.LogTail(r.Log, 1000000) {
			for _, word := range []string{"Resuming", "listed again", "Reconcil", "leader", "Git remote failed", "Connected to remote", "answer was lost", "unpushed"} {
				if strings.Contains(line, word) {
					h.t.Logf("%s: %s", r.Name, line)
					break
				}
			}
		}
	}
}

// keepLogs copies every replica's log out of the test's directory, for a failed run.
func (h *harness) keepLogs() {
	dir, err := os.MkdirTemp("", "chaos-logs-")
	if err != nil {
		h.t.Log(err)
		return
	}
	for _, r := range h.all {
		if data, err := os.ReadFile(r.Log); err == nil {
			_ = os.WriteFile(filepath.Join(dir, r.Name+".log"), data, 0o600)
		}
	}
	h.t.Logf("the replicas' logs are in %s", dir)
}

// leader waits for the replica that holds the Lease.
func (h *harness) leader() *stack.Replica {
	h.t.Helper()
	var found *stack.Replica
	NewWithT(h.t).Eventually(func() *stack.Replica {
		h.replaceExited()
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
	h.t.Helper()
	r.Kill()
	if err := r.Unpublish(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	delete(h.replicas, r.Name)
}

// replaceExited does what the kubelet does for a container whose process ended (a leader that
// could not renew its Lease exits): it takes it out of the Service and starts another.
func (h *harness) replaceExited() {
	h.t.Helper()
	for _, r := range h.replicas {
		select {
		case <-r.Done():
		default:
			continue
		}
		h.t.Logf("replica %s exited; its last lines:\n%s", r.Name, strings.Join(stack.LogTail(r.Log, 5), "\n"))
		_ = r.Unpublish(context.Background())
		delete(h.replicas, r.Name)
		h.startReplica()
	}
}

// tip is the remote branch's commit; forward checks that the branch only moved forward since
// the run's first commit.
func (h *harness) tip() string {
	return strings.TrimSpace(gitserver.Git(h.t, h.repo.Dir, "rev-parse", branch))
}

func (h *harness) forward() {
	h.t.Helper()
	cmd := exec.Command("git", "-C", h.repo.Dir, "merge-base", "--is-ancestor", h.start, branch)
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("the branch moved from %s to a commit that does not contain it (a force-push): %v", h.start, err)
	}
}

// firstCommitAfter waits until the remote has a commit of a change made after at, and returns
// how long after at that was.
func (h *harness) firstCommitAfter(at time.Time) time.Duration {
	h.t.Helper()
	from := h.tip()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		after := map[string]bool{}
		for _, w := range h.load.since(at) {
			if w.err == nil {
				after[w.name+"@"+w.rv] = true
			}
		}
		for _, c := range remoteCommitsSince(h.t, h.repo.Dir, branch, from) {
			if name, ok := objectOf(c.subject, ns); ok && after[name+"@"+c.rv] {
				return time.Since(at)
			}
		}
		h.replaceExited()
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("no change made after %s reached the remote within 2 minutes", at.Format(time.RFC3339))
	return 0
}

// settled holds both loads and waits until Git says what the cluster says for the captured
// ConfigMaps, and the cluster what Git says for the applied ones, with the branch only moved
// forward; then it lets the loads go on.
func (h *harness) settled(after string) {
	h.t.Helper()
	g := NewWithT(h.t)
	h.load.pause()
	h.git.pause()
	defer h.git.resume()
	defer h.load.resume()
	began := time.Now()
	want := map[string]string{}
	for i := range objects {
		cm := &corev1.ConfigMap{}
		g.Expect(h.cl.Env.Client.Get(h.t.Context(), keyOf(ns, fmt.Sprintf("load-%d", i)), cm)).To(Succeed())
		want[fmt.Sprintf("live-cluster/%s/configmaps/load-%d.yaml", ns, i)] = cm.Data["seq"]
	}
	g.Eventually(func() map[string]string {
		h.replaceExited()
		return seqs(filesIn(h.t, h.repo.Dir, "live-cluster/"+ns+"/configmaps"))
	}).WithTimeout(2*time.Minute).WithPolling(200*time.Millisecond).Should(Equal(want), "Git says what the cluster says, after %s", after)
	g.Eventually(func() map[string]string {
		h.replaceExited()
		got := map[string]string{}
		for name := range h.git.wanted() {
			cm := &corev1.ConfigMap{}
			if err := h.cl.Env.Client.Get(h.t.Context(), keyOf(ns, name), cm); err == nil {
				got[name] = cm.Data["seq"]
			}
		}
		return got
	}).WithTimeout(2*time.Minute).WithPolling(200*time.Millisecond).Should(Equal(h.git.wanted()), "the cluster says what Git says, after %s", after)
	h.forward()
	h.t.Logf("settled after %s in %s", after, time.Since(began).Round(100*time.Millisecond))
}
