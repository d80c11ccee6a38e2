package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"

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

func TestWrongHostKeyWritesNothing(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	cfg.Credentials.KnownHosts = []byte(impostorKnownHosts(t, remote.Server.Addr()) + "\n")
	w := start(t, cfg)
	_, err := w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())

	st := eventuallyReason(t, w, "HostKeyMismatch")
	g.Expect(st.Message).To(ContainSubstring("host key"))
	g.Expect(st.Pending).To(Equal(1))
	expectNoRefsForAWhile(t, remote.Dir)
	g.Expect(w.Status().Reason).To(Equal("HostKeyMismatch"))
}

func TestMissingKnownHostsFailsClosed(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	cfg.Credentials.KnownHosts = nil
	_, err := New(cfg)
	g.Expect(err).To(HaveOccurred())
	g.Expect(Classify(err)).To(Equal("HostKeyMismatch"))
	g.Expect(err.Error()).To(ContainSubstring("known_hosts"))
	g.Expect(err.Error()).To(ContainSubstring("add the host's keys"))
	// The hint must scan the port the URL names, not 22.
	_, port, splitErr := net.SplitHostPort(remote.Server.Addr())
	g.Expect(splitErr).NotTo(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("ssh-keyscan -p " + port + " 127.0.0.1"))

	// Blank known_hosts is no better than none.
	cfg.Credentials.KnownHosts = []byte("\n  \n")
	_, err = New(cfg)
	g.Expect(Classify(err)).To(Equal("HostKeyMismatch"))
}

func TestWrongClientKeyWritesNothing(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	stranger, err := gitserver.NewClientKey()
	g.Expect(err).NotTo(HaveOccurred())
	cfg := remote.config(t, "main")
	cfg.Credentials.SSHPrivateKey = stranger.PrivateKeyPEM
	w := start(t, cfg)
	_, err = w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())

	eventuallyReason(t, w, "AuthenticationFailed")
	expectNoRefsForAWhile(t, remote.Dir)
	g.Expect(w.Status().Reason).To(Equal("AuthenticationFailed"))
}

func TestHTTPSWithCustomCAAndBasicAuth(t *testing.T) {
	cases := map[string]struct {
		server gitserver.Credential
		writer func(caPEM []byte) Credentials
	}{
		"basic auth": {
			server: gitserver.Credential{Username: "u", Password: "p"},
			writer: func(ca []byte) Credentials { return Credentials{Username: "u", Password: "p", CABundle: ca} },
		},
		// The gitserver takes a credential without a user name as a token, sent as a bearer token.
		"bearer token": {
			server: gitserver.Credential{Password: "tok"},
			writer: func(ca []byte) Credentials { return Credentials{BearerToken: "tok", CABundle: ca} },
		},
		// Or as the password of basic auth with any user name, as a token-only Secret is read.
		"token as password": {
			server: gitserver.Credential{Password: "tok"},
			writer: func(ca []byte) Credentials { return Credentials{Password: "tok", CABundle: ca} },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			remote := newHTTPSRemote(t, tc.server)
			w := start(t, writerConfig(t, remote.URL, "main", tc.writer(remote.Server.CAPEM())))
			var want []string
			for i := range 3 {
				_, err := w.Commit(t.Context(), configMapChange(bob, i, "v1"))
				g.Expect(err).NotTo(HaveOccurred())
				want = append(want, fmt.Sprintf("[UPDATE] configmaps default/cm-%d", i))
			}
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			g.Expect(w.Flush(ctx)).To(Succeed())
			g.Expect(subjects(t, remote.Dir, "main")).To(Equal(want))
			gitserver.Fsck(t, remote.Dir)
			g.Expect(w.Status().Reason).To(Equal("Connected"))
		})
	}
}

func TestHTTPSWrongPasswordAndMissingCA(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		g := NewWithT(t)
		remote := newHTTPSRemote(t, gitserver.Credential{Username: "u", Password: "p"})
		creds := Credentials{Username: "u", Password: "not-p", CABundle: remote.Server.CAPEM()}
		w := start(t, writerConfig(t, remote.URL, "main", creds))
		_, err := w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
		eventuallyReason(t, w, "AuthenticationFailed")
		expectNoRefsForAWhile(t, remote.Dir)
	})
	t.Run("missing CA", func(t *testing.T) {
		g := NewWithT(t)
		remote := newHTTPSRemote(t, gitserver.Credential{Username: "u", Password: "p"})
		w := start(t, writerConfig(t, remote.URL, "main", Credentials{Username: "u", Password: "p"}))
		_, err := w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
		st := eventuallyReason(t, w, "Unreachable")
		g.Expect(st.Message).To(ContainSubstring("x509"))
		g.Expect(st.Message).To(ContainSubstring("certificate"))
		expectNoRefsForAWhile(t, remote.Dir)
	})
}

func TestCredentialsFromSecretKeyNames(t *testing.T) {
	key := []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
	hosts := []byte("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	cases := map[string]struct {
		data map[string][]byte
		want Credentials
	}{
		"Kubernetes ssh-auth": {
			data: map[string][]byte{"ssh-privatekey": key, "known_hosts": hosts},
			want: Credentials{SSHPrivateKey: key, KnownHosts: hosts},
		},
		"Kubernetes basic-auth": {
			data: map[string][]byte{"username": []byte("u"), "password": []byte("p")},
			want: Credentials{Username: "u", Password: "p"},
		},
		"Flux SSH, password is the key's passphrase": {
			data: map[string][]byte{"identity": key, "identity.pub": []byte("ssh-ed25519 AAAA"), "known_hosts": hosts, "password": []byte("secret")},
			want: Credentials{SSHPrivateKey: key, KnownHosts: hosts, Passphrase: []byte("secret")},
		},
		"Flux HTTPS with CA": {
			data: map[string][]byte{"username": []byte("u"), "password": []byte("p"), "ca.crt": ca},
			want: Credentials{Username: "u", Password: "p", CABundle: ca},
		},
		"Flux bearer token": {
			data: map[string][]byte{"bearerToken": []byte("tok\n")},
			want: Credentials{BearerToken: "tok"},
		},
		"Argo CD SSH": {
			data: map[string][]byte{"type": []byte("git"), "url": []byte("git@github.com:o/r.git"), "sshPrivateKey": key},
			want: Credentials{SSHPrivateKey: key},
		},
		"Argo CD HTTPS": {
			data: map[string][]byte{"type": []byte("git"), "url": []byte("https://github.com/o/r.git"), "username": []byte("u"), "password": []byte("p")},
			want: Credentials{Username: "u", Password: "p"},
		},
		"passphrase key wins over password": {
			data: map[string][]byte{"ssh-privatekey": key, "passphrase": []byte("a"), "password": []byte("b")},
			want: Credentials{SSHPrivateKey: key, Passphrase: []byte("a")},
		},
		"empty values are absent": {
			data: map[string][]byte{"ssh-privatekey": {}, "identity": key, "username": {}},
			want: Credentials{SSHPrivateKey: key},
		},
		"empty secret": {
			data: nil,
			want: Credentials{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			NewWithT(t).Expect(CredentialsFromSecret(tc.data)).To(Equal(tc.want))
		})
	}
}

func TestPushPolicyBatchesByCountAndInterval(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	fakeClock := clocktesting.NewFakeClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	cfg := remote.config(t, "main")
	cfg.Push = PushPolicy{Interval: time.Hour, MaxCommits: 3}
	cfg.Clock = fakeClock
	w := startSynced(t, cfg)
	commitsOnRemote := func() string {
		if !hasBranch(t, remote.Dir, "main") {
			return "0"
		}
		return gitCLI(t, remote.Dir, "rev-list", "--count", "main")
	}

	for i := range 2 {
		_, err := w.Commit(t.Context(), configMapChange(alice, i, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Consistently(func() bool { return hasBranch(t, remote.Dir, "main") }).
		WithTimeout(500 * time.Millisecond).WithPolling(50 * time.Millisecond).Should(BeFalse())
	g.Expect(w.Status().Pending).To(Equal(2))

	// The third commit reaches MaxCommits: pushed at once, without the clock moving.
	_, err := w.Commit(t.Context(), configMapChange(alice, 2, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(commitsOnRemote).WithTimeout(30 * time.Second).WithPolling(20 * time.Millisecond).Should(Equal("3"))
	g.Eventually(func() int { return w.Status().Pending }).WithTimeout(10 * time.Second).Should(BeZero())

	// One more waits for the interval.
	_, err = w.Commit(t.Context(), configMapChange(alice, 3, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Consistently(commitsOnRemote).WithTimeout(500 * time.Millisecond).WithPolling(50 * time.Millisecond).Should(Equal("3"))
	// The Writer's timer is the only waiter on the clock; step only once it is armed.
	g.Eventually(fakeClock.HasWaiters).WithTimeout(10 * time.Second).Should(BeTrue())
	fakeClock.Step(time.Hour - time.Second)
	g.Consistently(commitsOnRemote).WithTimeout(300 * time.Millisecond).WithPolling(50 * time.Millisecond).Should(Equal("3"))
	fakeClock.Step(time.Second)
	g.Eventually(commitsOnRemote).WithTimeout(30 * time.Second).WithPolling(20 * time.Millisecond).Should(Equal("4"))
	g.Expect(subjects(t, remote.Dir, "main")).To(Equal([]string{
		"[UPDATE] configmaps default/cm-0", "[UPDATE] configmaps default/cm-1",
		"[UPDATE] configmaps default/cm-2", "[UPDATE] configmaps default/cm-3",
	}))
	gitserver.Fsck(t, remote.Dir)
}

func TestPushPolicyDueAt(t *testing.T) {
	oldest := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		policy  PushPolicy
		pending int
		want    time.Time
		ok      bool
	}{
		{"nothing pending", PushPolicy{Interval: time.Hour, MaxCommits: 3}, 0, time.Time{}, false},
		{"nothing pending, interval 0", PushPolicy{}, 0, time.Time{}, false},
		{"interval 0 pushes at once", PushPolicy{}, 1, oldest, true},
		{"negative interval pushes at once", PushPolicy{Interval: -time.Second}, 1, oldest, true},
		{"under MaxCommits waits the interval", PushPolicy{Interval: time.Hour, MaxCommits: 3}, 2, oldest.Add(time.Hour), true},
		{"at MaxCommits pushes at once", PushPolicy{Interval: time.Hour, MaxCommits: 3}, 3, oldest, true},
		{"over MaxCommits pushes at once", PushPolicy{Interval: time.Hour, MaxCommits: 3}, 40, oldest, true},
		{"no MaxCommits waits the interval", PushPolicy{Interval: time.Minute}, 100_000, oldest.Add(time.Minute), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, ok := tc.policy.dueAt(tc.pending, oldest)
			g.Expect(ok).To(Equal(tc.ok))
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestRetryBackoff(t *testing.T) {
	g := NewWithT(t)
	for failures, want := range map[int]time.Duration{
		-1: 0, 0: 0,
		1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 32 * time.Second,
		7: time.Minute, 8: time.Minute, 1000: time.Minute,
	} {
		g.Expect(retryBackoff(failures, time.Second, time.Minute)).To(Equal(want), "after %d failures", failures)
	}
	// A minimum above the maximum is capped.
	g.Expect(retryBackoff(1, 2*time.Minute, time.Minute)).To(Equal(time.Minute))
	g.Expect(retryBackoff(3, 20*time.Millisecond, 200*time.Millisecond)).To(Equal(80 * time.Millisecond))
	g.Expect(retryBackoff(5, 20*time.Millisecond, 200*time.Millisecond)).To(Equal(200 * time.Millisecond))
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
	var mu sync.Mutex
	var reasons []string
	cfg.OnStatus = func(s Status) {
		mu.Lock()
		defer mu.Unlock()
		reasons = append(reasons, s.Reason)
	}
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
	mu.Lock()
	g.Expect(reasons).NotTo(ContainElement("PushRejected"), "reasons reported: %v", reasons)
	mu.Unlock()
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
