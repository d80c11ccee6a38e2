package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

func TestOutageThenRecoveryLosesNothing(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	// Every object goes to a pack on disk as soon as it is made: the outage runs on the spill path.
	cfg.SpillBytes = 1
	w := startSynced(t, cfg)

	var want []string
	commit := func(i int) {
		t.Helper()
		// Commit only waits for the local commit: a dead remote must not slow it down.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		res, err := w.Commit(ctx, configMapChange(alice, i, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Changed).To(BeTrue())
		want = append(want, fmt.Sprintf("[UPDATE] configmaps default/cm-%d", i))
	}
	for i := range 5 {
		commit(i)
	}
	g.Expect(w.Flush(t.Context())).To(Succeed())
	g.Expect(gitCLI(t, remote.Dir, "rev-list", "--count", "main")).To(Equal("5"))

	g.Expect(remote.Server.Stop()).To(Succeed())
	for i := 5; i < 35; i++ {
		commit(i)
	}
	g.Eventually(func(g Gomega) {
		st := w.Status()
		g.Expect(st.Reason).To(Equal("Unreachable"), "status: %+v", st)
		g.Expect(st.Pending).To(BeNumerically(">", 0))
	}).WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).Should(Succeed())
	g.Expect(w.Status().Pending).To(Equal(30))
	g.Expect(gitCLI(t, remote.Dir, "rev-list", "--count", "main")).To(Equal("5"))
	g.Expect(spillFilesIn(t, cfg.WorkDir)).To(BeNumerically(">=", 30), "the objects did not spill to disk")

	g.Expect(remote.Server.Start()).To(Succeed())
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	g.Expect(w.Flush(ctx)).To(Succeed())

	g.Expect(subjects(t, remote.Dir, "main")).To(Equal(want))
	g.Expect(gitCLI(t, remote.Dir, "show", "main:live/default/configmaps/cm-34.yaml")).To(Equal("data:\n  key: v1"))
	gitserver.Fsck(t, remote.Dir)
	st := w.Status()
	g.Expect(st.Reason).To(Equal("Connected"))
	g.Expect(st.Pending).To(BeZero())
	g.Expect(spillFilesIn(t, cfg.WorkDir)).To(BeZero(), "spill files outlived the push")

	// The Writer goes on after dropping them.
	commit(35)
	g.Expect(w.Flush(ctx)).To(Succeed())
	g.Expect(gitCLI(t, remote.Dir, "rev-list", "--count", "main")).To(Equal("36"))
	gitserver.Fsck(t, remote.Dir)
}

// A push that loses the race for the ref after the advertisement (git-receive-pack answers
// "failed to update ref") is a conflict like any other: replayed at once, never reported as a
// rejection.
func TestRefMovedDuringPushIsAConflict(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	sneaked := sneakOnce(t, remote.Dir, "main")
	cfg := remote.config(t, "main")
	metrics, err := NewMetrics(prometheus.NewRegistry())
	g.Expect(err).NotTo(HaveOccurred())
	cfg.Metrics = metrics
	status := recordStatus(&cfg)
	w := startSynced(t, cfg)

	for i := range 2 {
		_, err := w.Commit(t.Context(), configMapChange(alice, i, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		g.Expect(w.Flush(ctx)).To(Succeed())
		cancel()
	}

	g.Expect(subjects(t, remote.Dir, "main")).To(Equal([]string{
		"[UPDATE] configmaps default/cm-0", sneaked, "[UPDATE] configmaps default/cm-1"}))
	g.Expect(testutil.ToFloat64(metrics.conflicts.WithLabelValues(repoLabel(remote.URL), "main"))).To(BeNumerically(">=", 1))
	reasons := status.reasons()
	g.Expect(reasons).NotTo(ContainElement("PushRejected"), "reasons reported: %v", reasons)
	gitserver.Fsck(t, remote.Dir)
}

// A hook that refuses the push is a rejection, not a conflict: reported, retried with backoff,
// and nothing reaches the branch until the hook lets it.
func TestHookRefusalIsPushRejected(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	w := startSynced(t, remote.config(t, "main"))
	_, err := w.Commit(t.Context(), configMapChange(alice, 0, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(t.Context())).To(Succeed())
	before := gitserver.Refs(t, remote.Dir)

	hook := filepath.Join(remote.Dir, "hooks", "pre-receive")
	writeFile(t, hook, "#!/bin/sh\necho 'main is frozen' >&2\nexit 1\n")
	g.Expect(os.Chmod(hook, 0o755)).To(Succeed())
	_, err = w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	st := eventuallyReason(t, w, "PushRejected")
	g.Expect(st.Message).To(ContainSubstring("declined"))
	g.Expect(st.Pending).To(Equal(1))
	g.Consistently(func() map[string]string { return gitserver.Refs(t, remote.Dir) }).
		WithTimeout(500 * time.Millisecond).WithPolling(50 * time.Millisecond).Should(Equal(before))

	g.Expect(os.Remove(hook)).To(Succeed())
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	g.Expect(w.Flush(ctx)).To(Succeed())
	g.Expect(subjects(t, remote.Dir, "main")).To(Equal([]string{
		"[UPDATE] configmaps default/cm-0", "[UPDATE] configmaps default/cm-1"}))
	g.Expect(w.Status().Reason).To(Equal("Connected"))
}

// answerLost pushes through the real transport, then, once, reports a broken connection: what a
// client sees when the remote took the push and the connection dropped before its answer.
type answerLost struct {
	Remote
	lost atomic.Bool
}

func (a *answerLost) Push(ctx context.Context, branch string, old, new plumbing.Hash, pack []byte) error {
	if err := a.Remote.Push(ctx, branch, old, new, pack); err != nil {
		return err
	}
	if a.lost.CompareAndSwap(false, true) {
		return errors.New("connection reset by peer")
	}
	return nil
}

// A push that went through though its answer was lost is not made again: the commits are on
// the remote once, and a file written twice does not go back to its first state in between.
func TestAPushWhoseAnswerWasLostIsNotMadeTwice(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	cfg.Push = PushPolicy{MaxCommits: 3, Interval: time.Hour}
	w, err := New(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	lossy := &answerLost{Remote: w.remote}
	w.remote = lossy
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		g.Expect(<-done).To(Succeed())
	})
	for _, value := range []string{"v1", "v2", "v3"} {
		_, err := w.Commit(t.Context(), configMapChange(alice, 0, value))
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Eventually(lossy.lost.Load).WithTimeout(30 * time.Second).Should(BeTrue())
	flush, cancelFlush := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancelFlush()
	g.Expect(w.Flush(flush)).To(Succeed())
	g.Expect(gitCLI(t, remote.Dir, "rev-list", "--count", "main")).To(Equal("3"))
	g.Expect(gitCLI(t, remote.Dir, "show", "main:live/default/configmaps/cm-0.yaml")).To(Equal("data:\n  key: v3"))
	_, err = w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(flush)).To(Succeed())
	g.Expect(gitCLI(t, remote.Dir, "rev-list", "--count", "main")).To(Equal("4"))
}
