package watch

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Replay gives a resource's changes after a resourceVersion, in order, with their operations;
// history the API server no longer holds is ErrCompacted.
func TestReplayGivesTheHistorySinceAResourceVersion(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "replay"}}
	g.Expect(env.Client.Create(ctx, ns)).To(Succeed())
	client, err := dynamic.NewForConfig(env.Config)
	g.Expect(err).NotTo(HaveOccurred())
	w := New(client, Options{Log: testr.New(t)})
	key := Key{Resource: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, Namespace: "replay"}
	from, err := w.Current(ctx, key)
	g.Expect(err).NotTo(HaveOccurred())

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "replay"}, StringData: map[string]string{"k": "1"}}
	g.Expect(env.Client.Create(ctx, secret)).To(Succeed())
	secret.StringData = map[string]string{"k": "2"}
	g.Expect(env.Client.Update(ctx, secret)).To(Succeed())
	g.Expect(env.Client.Delete(ctx, secret)).To(Succeed())
	until, err := w.Current(ctx, key)
	g.Expect(err).NotTo(HaveOccurred())

	events, err := w.Replay(ctx, key, from, until)
	g.Expect(err).NotTo(HaveOccurred())
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%d %s", e.Type, e.Object.GetName()))
	}
	g.Expect(got).To(Equal([]string{fmt.Sprintf("%d a", Added), fmt.Sprintf("%d a", Updated), fmt.Sprintf("%d a", Deleted)}))

	rev, err := env.CompactEtcd(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = w.Replay(ctx, key, from, until)
	t.Logf("etcd compacted at revision %d", rev)
	g.Expect(err).To(MatchError(ErrCompacted), "etcd compacted the history since %d", from)
}

// A restarted API server's watch cache starts at the restart: it no longer holds the changes
// before it, says where its history begins, and a replay from there reads the rest.
func TestReplayAfterAnAPIServerRestartSaysWhereItsHistoryBegins(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "restarted"}}
	g.Expect(env.Client.Create(ctx, ns)).To(Succeed())
	client, err := dynamic.NewForConfig(env.Config)
	g.Expect(err).NotTo(HaveOccurred())
	w := New(client, Options{Log: testr.New(t)})
	key := Key{Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Namespace: "restarted"}
	from, err := w.Current(ctx, key)
	g.Expect(err).NotTo(HaveOccurred())
	before := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before", Namespace: "restarted"}}
	g.Expect(env.Client.Create(ctx, before)).To(Succeed())

	g.Expect(env.RestartAPIServer()).To(Succeed())
	g.Eventually(func() error { _, err := w.Current(ctx, key); return err }).WithTimeout(30 * time.Second).Should(Succeed())
	after := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after", Namespace: "restarted"}}
	g.Expect(env.Client.Create(ctx, after)).To(Succeed())
	until, err := w.Current(ctx, key)
	g.Expect(err).NotTo(HaveOccurred())

	_, err = w.Replay(ctx, key, from, until)
	var gap *CompactedError
	g.Expect(errors.As(err, &gap)).To(BeTrue(), "%v", err)
	g.Expect(err).To(MatchError(ErrCompacted))
	beforeRV, _ := ParseVersion(before.ResourceVersion)
	afterRV, _ := ParseVersion(after.ResourceVersion)
	g.Expect(gap.Oldest).To(And(BeNumerically(">=", beforeRV), BeNumerically("<", afterRV)))

	events, err := w.Replay(ctx, key, gap.Oldest, until)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(events).To(HaveLen(1))
	g.Expect(events[0].Type).To(Equal(Added))
	g.Expect(events[0].Object.GetName()).To(Equal("after"))
}
