package gitwriter

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

func startRegistry(t *testing.T) *Registry {
	t.Helper()
	r := &Registry{BaseDir: t.TempDir(), Log: testr.New(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	NewWithT(t).Eventually(func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.ctx != nil
	}).Should(BeTrue())
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}

func TestTargetsOnOneBranchShareOneWriter(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	r := startRegistry(t)
	key := Key{URL: remote.URL, Branch: "main"}
	settings := Settings{Credentials: remote.credentials(), Push: PushPolicy{MaxCommits: 1}}

	a, err := r.Acquire(t.Context(), "GitTarget ns-a/live", key, settings)
	g.Expect(err).NotTo(HaveOccurred())
	b, err := r.Acquire(t.Context(), "GitTarget ns-b/live", key, settings)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(b).To(BeIdenticalTo(a))
	other, err := r.Acquire(t.Context(), "GitTarget ns-b/other", Key{URL: remote.URL, Branch: "other"}, settings)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(other).NotTo(BeIdenticalTo(a))

	for i := range 4 {
		w := a
		if i%2 == 1 {
			w = b
		}
		_, err := w.Commit(t.Context(), configMapChange(alice, i, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(a.Flush(t.Context())).To(Succeed())
	g.Expect(subjects(t, remote.Dir, "main")).To(HaveLen(4))
	g.Expect(r.Statuses(remote.URL)).To(HaveKey("main"))

	// The writer lives while anyone holds it, and stops (after pushing) with the last release.
	r.Release("GitTarget ns-a/live", key)
	_, err = b.Commit(t.Context(), configMapChange(bob, 10, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	r.Release("GitTarget ns-b/live", key)
	g.Eventually(func() []string { return subjects(t, remote.Dir, "main") }).Should(HaveLen(5))
	g.Eventually(func() map[string]Status { return r.Statuses(remote.URL) }).ShouldNot(HaveKey("main"))

	// Acquiring again starts a fresh writer that continues the branch.
	again, err := r.Acquire(t.Context(), "GitTarget ns-a/live", key, settings)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = again.Commit(t.Context(), configMapChange(alice, 11, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again.Flush(t.Context())).To(Succeed())
	g.Expect(subjects(t, remote.Dir, "main")).To(HaveLen(6))
	gitserver.Fsck(t, remote.Dir)
}

func TestFixedCredentialsDeliverWhatWasHeld(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	r := startRegistry(t)
	key := Key{URL: remote.URL, Branch: "main"}
	stranger, err := gitserver.NewClientKey()
	g.Expect(err).NotTo(HaveOccurred())
	wrong := Settings{Credentials: Credentials{SSHPrivateKey: stranger.PrivateKeyPEM, KnownHosts: []byte(remote.Server.KnownHosts())},
		Push: PushPolicy{MaxCommits: 1}}

	w, err := r.Acquire(t.Context(), "GitTarget default/live", key, wrong)
	g.Expect(err).NotTo(HaveOccurred())
	for i := range 3 {
		_, err := w.Commit(t.Context(), configMapChange(alice, i, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Eventually(func() string { return w.Status().Reason }).WithTimeout(30 * time.Second).Should(Equal("AuthenticationFailed"))
	g.Expect(gitserver.Refs(t, remote.Dir)).To(BeEmpty())

	// Settings without known_hosts fail closed: nothing falls back to the old credentials.
	_, err = r.Acquire(t.Context(), "GitTarget default/live", key, Settings{Credentials: Credentials{SSHPrivateKey: remote.Key.PrivateKeyPEM}})
	g.Expect(err).To(HaveOccurred())
	g.Expect(Classify(err)).To(Equal("HostKeyMismatch"))
	g.Eventually(func() string { return w.Status().Reason }).Should(Equal("HostKeyMismatch"))

	// The person fixes the Secret; the controller passes the new settings; the held commits go.
	right := Settings{Credentials: remote.credentials(), Push: PushPolicy{MaxCommits: 1}}
	_, err = r.Acquire(t.Context(), "GitTarget default/live", key, right)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(t.Context())).To(Succeed())
	g.Expect(subjects(t, remote.Dir, "main")).To(Equal([]string{
		"[UPDATE] configmaps default/cm-0", "[UPDATE] configmaps default/cm-1", "[UPDATE] configmaps default/cm-2"}))
}
