package gitwriter

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

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
