package gitwriter

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

func TestCommitsArriveInOrderWithAuthorCommitterAndTrailers(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	cfg.Committer = Signature{Name: "gitops-reverser", Email: "operator@example.com"}
	w := startSynced(t, cfg)

	var want []string
	for i := range 20 {
		author := alice
		if i%2 == 1 {
			author = bob
		}
		res, err := w.Commit(t.Context(), configMapChange(author, i, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Changed).To(BeTrue())
		want = append(want, fmt.Sprintf("%s|%s|gitops-reverser|operator@example.com|[UPDATE] configmaps default/cm-%d|%s",
			author.Name, author.Email, i, author.Name))
	}
	// Writing what a file already holds makes no commit.
	res, err := w.Commit(t.Context(), configMapChange(alice, 3, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Changed).To(BeFalse())
	// A delete removes the file.
	_, err = w.Commit(t.Context(), Change{
		Ops:     []FileOp{{Path: "live/default/configmaps/cm-0.yaml", Delete: true}},
		Author:  alice,
		Message: "[DELETE] configmaps default/cm-0",
	})
	g.Expect(err).NotTo(HaveOccurred())
	want = append(want, "alice|alice@cluster.kubernetes.invalid|gitops-reverser|operator@example.com|[DELETE] configmaps default/cm-0|")
	g.Expect(w.Flush(t.Context())).To(Succeed())

	got := lines(gitCLI(t, remote.Dir, "log", "--reverse", "--format=%an|%ae|%cn|%ce|%s|%(trailers:key=Kubernetes-User,valueonly,separator=)", "main"))
	g.Expect(got).To(Equal(want))
	g.Expect(gitCLI(t, remote.Dir, "show", "main:live/default/configmaps/cm-7.yaml")).To(Equal("data:\n  key: v1"))
	g.Expect(gitCLI(t, remote.Dir, "ls-tree", "-r", "--name-only", "main")).NotTo(ContainSubstring("cm-0.yaml"))
	g.Expect(gitCLI(t, remote.Dir, "log", "-1", "--format=%aI", "main~1")).To(Equal("2026-11-21T12:00:19+00:00"))
	gitserver.Fsck(t, remote.Dir)
	g.Expect(w.Status().Reason).To(Equal("Connected"))
	g.Expect(w.Status().Pending).To(BeZero())
}

func TestEmptyRemoteGetsTheBranchAsItsFirstCommit(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	w := start(t, remote.config(t, "audit"))
	_, err := w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(t.Context())).To(Succeed())
	g.Expect(gitCLI(t, remote.Dir, "rev-list", "--count", "audit")).To(Equal("1"))
	g.Expect(gitCLI(t, remote.Dir, "log", "--format=%P", "audit")).To(BeEmpty())
	gitserver.Fsck(t, remote.Dir)
}

func TestMissingBranchIsCreatedFromTheDefaultBranch(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	clone, env := cliClone(t, remote.Dir, "main")
	writeFile(t, clone+"/README.md", "hello\n")
	for _, args := range [][]string{{"add", "."}, {"commit", "-qm", "initial"}, {"push", "-q", "origin", "main"}} {
		_, err := gitserver.Run(t.Context(), clone, env, args...)
		g.Expect(err).NotTo(HaveOccurred())
	}
	mainTip := gitCLI(t, remote.Dir, "rev-parse", "main")

	w := start(t, remote.config(t, "gitops-reverser"))
	_, err := w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(t.Context())).To(Succeed())

	g.Expect(gitCLI(t, remote.Dir, "rev-parse", "gitops-reverser~1")).To(Equal(mainTip))
	g.Expect(gitCLI(t, remote.Dir, "show", "gitops-reverser:README.md")).To(Equal("hello"))
	g.Expect(gitCLI(t, remote.Dir, "rev-parse", "main")).To(Equal(mainTip), "main must not move")
	gitserver.Fsck(t, remote.Dir)
}

func TestAConcurrentPusherAndTheWriterLoseNothing(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	clone, env := cliClone(t, remote.Dir, "main")
	remote.useOverSSH(t, clone, env)
	writeFile(t, clone+"/people/README.md", "people write here\n")
	for _, args := range [][]string{{"add", "."}, {"commit", "-qm", "carol-0"}, {"push", "-q", "origin", "main"}} {
		_, err := gitserver.Run(t.Context(), clone, env, args...)
		g.Expect(err).NotTo(HaveOccurred())
	}
	cfg := remote.config(t, "main")
	// Batching, as deployments do (the default interval is 5s): we always hold pending commits,
	// so every push of carol's makes our next push a conflict to replay, and we leave the branch
	// alone between pushes, so she always gets through. With interval 0 on both sides, whoever
	// has the shorter push cycle starves the other (see docs/architecture.md). Her cycle (a pull
	// and a push, an SSH connection each) took more than 200 ms when the machine was busy, and
	// she then never got a turn: 500 ms leaves her one.
	cfg.Push = PushPolicy{Interval: 500 * time.Millisecond, MaxCommits: 1000}
	metrics, err := NewMetrics(prometheus.NewRegistry())
	g.Expect(err).NotTo(HaveOccurred())
	cfg.Metrics = metrics
	w := start(t, cfg)

	// Carol pushes 10 commits to the same branch, a few milliseconds apart, over SSH, pulling
	// with rebase when we got there first, as a person would.
	var carolPushed atomic.Int64
	stop := make(chan struct{})
	carolDone := make(chan struct{})
	go func() {
		defer close(carolDone)
		run := func(args ...string) error {
			_, err := gitserver.Run(context.Background(), clone, env, args...)
			return err
		}
		for n := 1; n <= 10; n++ {
			select {
			case <-stop:
				return
			default:
			}
			writeFile(t, fmt.Sprintf("%s/people/carol-%d.txt", clone, n), "by carol\n")
			if err := run("add", "."); err != nil {
				t.Error(err)
				return
			}
			if err := run("commit", "-qm", fmt.Sprintf("carol-%d", n)); err != nil {
				t.Error(err)
				return
			}
			for run("push", "-q", "origin", "main") != nil {
				if err := run("pull", "-q", "--rebase", "origin", "main"); err != nil {
					t.Errorf("carol's pull failed: %v", err)
					return
				}
			}
			carolPushed.Add(1)
			time.Sleep(3 * time.Millisecond)
		}
	}()

	// We keep committing, paced like a busy cluster, until carol has made all her pushes.
	ours := 0
	for carolRunning := true; carolRunning || ours < 100; ours++ {
		g.Expect(ours).To(BeNumerically("<", 20000), "carol could not push beside us")
		_, err := w.Commit(t.Context(), configMapChange(alice, ours, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
		select {
		case <-carolDone:
			carolRunning = false
		case <-time.After(5 * time.Millisecond):
		}
	}
	g.Expect(w.Flush(t.Context())).To(Succeed())
	close(stop)
	carols := int(carolPushed.Load())
	g.Expect(carols).To(Equal(10))
	conflicts := testutil.ToFloat64(metrics.conflicts.WithLabelValues(repoLabel(remote.URL), "main"))
	g.Expect(conflicts).To(BeNumerically(">", 0), "the two pushers never met; the test proved nothing")

	got := subjects(t, remote.Dir, "main")
	seen := map[string]int{}
	var oursInOrder []string
	for _, s := range got {
		seen[s]++
		if strings.HasPrefix(s, "[UPDATE]") {
			oursInOrder = append(oursInOrder, s)
		}
	}
	g.Expect(oursInOrder).To(HaveLen(ours))
	for i, s := range oursInOrder {
		g.Expect(s).To(Equal(fmt.Sprintf("[UPDATE] configmaps default/cm-%d", i)), "our commits keep their order")
	}
	for i := 0; i <= carols; i++ {
		g.Expect(seen[fmt.Sprintf("carol-%d", i)]).To(Equal(1), "carol's commit %d", i)
	}
	files := gitCLI(t, remote.Dir, "ls-tree", "-r", "--name-only", "main")
	g.Expect(strings.Count(files, "live/default/configmaps/")).To(Equal(ours))
	g.Expect(strings.Count(files, "people/carol-")).To(Equal(carols))
	gitserver.Fsck(t, remote.Dir)
	t.Logf("%d commits of ours and %d of carol's; %v conflicts replayed", ours, carols, conflicts)
}

func TestReplayKeepsOtherPeoplesCommitsAndTheClusterWins(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	cfg.Push = PushPolicy{Interval: time.Hour, MaxCommits: 1000}
	w := start(t, cfg)
	_, err := w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(t.Context())).To(Succeed())

	// A person edits the same file and another one while our next commit is pending.
	clone, env := cliClone(t, remote.Dir, "main")
	writeFile(t, clone+"/live/default/configmaps/cm-1.yaml", "edited by hand\n")
	writeFile(t, clone+"/notes.md", "keep me\n")
	for _, args := range [][]string{{"add", "."}, {"commit", "-qm", "hand edit"}, {"push", "-q", "origin", "main"}} {
		_, err := gitserver.Run(t.Context(), clone, env, args...)
		g.Expect(err).NotTo(HaveOccurred())
	}
	_, err = w.Commit(t.Context(), configMapChange(bob, 1, "v2"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(t.Context())).To(Succeed())

	g.Expect(subjects(t, remote.Dir, "main")).To(Equal([]string{
		"[UPDATE] configmaps default/cm-1", "hand edit", "[UPDATE] configmaps default/cm-1"}))
	g.Expect(gitCLI(t, remote.Dir, "show", "main:live/default/configmaps/cm-1.yaml")).To(Equal("data:\n  key: v2"))
	g.Expect(gitCLI(t, remote.Dir, "show", "main:notes.md")).To(Equal("keep me"))
	g.Expect(gitCLI(t, remote.Dir, "log", "-1", "--format=%an", "main")).To(Equal("bob"))
	gitserver.Fsck(t, remote.Dir)
}

func TestFilesListsTheFolderOfTheRemoteTipWithPendingCommits(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	cfg.Push = PushPolicy{Interval: time.Hour, MaxCommits: 1000}
	// A person's file is on the remote before the Writer starts.
	clone, env := cliClone(t, remote.Dir, "main")
	writeFile(t, clone+"/live/default/configmaps/by-hand.yaml", "added by hand\n")
	writeFile(t, clone+"/elsewhere/other.yaml", "not in the folder\n")
	for _, args := range [][]string{{"add", "."}, {"commit", "-qm", "by hand"}, {"push", "-q", "origin", "main"}} {
		_, err := gitserver.Run(t.Context(), clone, env, args...)
		g.Expect(err).NotTo(HaveOccurred())
	}
	w := startSynced(t, cfg)
	change := configMapChange(alice, 1, "v1")
	_, err := w.Commit(t.Context(), change)
	g.Expect(err).NotTo(HaveOccurred())

	files, err := w.Files(t.Context(), "live")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(files).To(Equal(map[string]plumbing.Hash{
		"live/default/configmaps/by-hand.yaml": BlobHash([]byte("added by hand\n")),
		"live/default/configmaps/cm-1.yaml":    BlobHash(change.Ops[0].Data),
	}))
	data, ok, err := w.Read(t.Context(), "live/default/configmaps/by-hand.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(string(data)).To(Equal("added by hand\n"))
	data, ok, err = w.Read(t.Context(), "live/default/configmaps/cm-1.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(data).To(Equal(change.Ops[0].Data))
	_, ok, err = w.Read(t.Context(), "live/nothing.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse())
	files, err = w.Files(t.Context(), "nowhere")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(files).To(BeEmpty())
}

// A commit that changes one file of a big folder sends that folder's tree as a delta against its
// previous version: within a push (OFS_DELTA) and against what the remote has (a thin pack with
// REF_DELTA). The real git-receive-pack must accept both and end with the right files.
func TestBigFoldersTravelAsTreeDeltas(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	metrics, err := NewMetrics(prometheus.NewRegistry())
	g.Expect(err).NotTo(HaveOccurred())
	cfg := remote.config(t, "main")
	cfg.Metrics = metrics
	cfg.Push = PushPolicy{Interval: time.Hour, MaxCommits: 1000}
	w := startSynced(t, cfg)
	ops := make([]FileOp, 2000)
	for i := range ops {
		ops[i] = FileOp{Path: fmt.Sprintf("live/default/configmaps/cm-%04d.yaml", i), Data: []byte(fmt.Sprintf("data:\n  key: %d\n", i))}
	}
	_, err = w.Commit(t.Context(), Change{Ops: ops, Author: alice, Message: "[RECONCILE] live"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(t.Context())).To(Succeed())
	pushed := func() float64 {
		return testutil.ToFloat64(metrics.bytesPushed.WithLabelValues(repoLabel(remote.URL), "main"))
	}
	snapshot := pushed()
	const treeBytes = 2000 * (len("100644 cm-0000.yaml") + 21)

	for round := range 2 {
		for i := range 10 {
			change := configMapChange(bob, 100*round+i, fmt.Sprintf("round-%d", round))
			change.Ops[0].Path = fmt.Sprintf("live/default/configmaps/cm-%04d.yaml", 100*round+i)
			_, err := w.Commit(t.Context(), change)
			g.Expect(err).NotTo(HaveOccurred())
		}
		g.Expect(w.Flush(t.Context())).To(Succeed())
	}
	g.Expect(pushed()-snapshot).To(BeNumerically("<", treeBytes), "20 commits of a 2,000-file folder cost less than one of its trees")
	gitserver.Fsck(t, remote.Dir)
	g.Expect(gitCLI(t, remote.Dir, "show", "main:live/default/configmaps/cm-0105.yaml")).To(Equal("data:\n  key: round-1"))
	g.Expect(gitCLI(t, remote.Dir, "show", "main:live/default/configmaps/cm-0009.yaml")).To(Equal("data:\n  key: round-0"))
	g.Expect(gitCLI(t, remote.Dir, "show", "main:live/default/configmaps/cm-1999.yaml")).To(Equal("data:\n  key: 1999"))
	g.Expect(lines(gitCLI(t, remote.Dir, "ls-tree", "-r", "--name-only", "main"))).To(HaveLen(2000))
}

// Content a Writer made is dropped from memory once pushed, unless the change asked to keep it.
func TestKeptContentStaysReadableAfterThePush(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	w := startSynced(t, remote.config(t, "main"))
	dropped, kept := configMapChange(alice, 1, "dropped"), configMapChange(alice, 2, "kept")
	kept.Ops[0].Keep = true
	for _, c := range []Change{dropped, kept} {
		_, err := w.Commit(t.Context(), c)
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(w.Flush(t.Context())).To(Succeed())
	_, _, err := w.Read(t.Context(), dropped.Ops[0].Path)
	g.Expect(err).To(MatchError(ErrDropped))
	data, ok, err := w.Read(t.Context(), kept.Ops[0].Path)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(data).To(Equal(kept.Ops[0].Data))
	g.Expect(gitCLI(t, remote.Dir, "show", "main:"+kept.Ops[0].Path) + "\n").To(Equal(string(kept.Ops[0].Data)))
}
