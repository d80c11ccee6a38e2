package watch

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) {
	// Secrets are watched from etcd itself, without the watch cache, so that compacting etcd
	// drops their history as an API server does once its cache has moved on.
	controlplane.Main(m, controlplane.Options{WithoutCRDs: true, APIServerFlags: map[string]string{"watch-cache-sizes": "secrets#0"}}, &env)
}

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// recorder keeps what a subscriber received.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) handle(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Type == Relisted {
		r.events = append(r.events, "relisted")
		return
	}
	kind := map[EventType]string{Added: "add", Updated: "update", Deleted: "delete"}[e.Type]
	if e.Initial {
		kind = "initial"
	}
	obj, err := e.Object.Decode()
	if err != nil {
		r.events = append(r.events, fmt.Sprintf("%s %s undecodable: %v", kind, e.Object.GetName(), err))
		return
	}
	value, _, _ := unstructuredString(obj.Object, "data", "key")
	r.events = append(r.events, fmt.Sprintf("%s %s=%s", kind, e.Object.GetName(), value))
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	cur := any(obj)
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur = m[f]
	}
	s, ok := cur.(string)
	return s, ok, nil
}

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "w-"}}
	NewWithT(t).Expect(env.Client.Create(t.Context(), ns)).To(Succeed())
	return ns.Name
}

func configMap(ns, name, value string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"key": value}}
}

func newWatches(t *testing.T) *Watches {
	t.Helper()
	client, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	w := New(client, Options{Log: testr.New(t)})
	t.Cleanup(w.Stop)
	return w
}

func TestSubscribersSeeTheListThenEveryChangeInOrder(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	g.Expect(env.Client.Create(t.Context(), configMap(ns, "before", "1"))).To(Succeed())
	w := newWatches(t)
	key := Key{Resource: configMaps, Namespace: ns}
	first := &recorder{}
	g.Expect(w.Subscribe(t.Context(), key, "first", first.handle)).To(Succeed())
	g.Eventually(func() bool { return w.Synced(key, "first") }).WithTimeout(10 * time.Second).Should(BeTrue())
	g.Expect(first.seen()).To(Equal([]string{"initial before=1"}))
	listed, ok := w.List(key)
	g.Expect(ok).To(BeTrue())
	g.Expect(listed).To(HaveLen(1))
	g.Expect(listed[0].GetName()).To(Equal("before"))

	cm := configMap(ns, "live", "a")
	g.Expect(env.Client.Create(t.Context(), cm)).To(Succeed())
	cm.Data["key"] = "b"
	g.Expect(env.Client.Update(t.Context(), cm)).To(Succeed())
	g.Expect(env.Client.Delete(t.Context(), cm)).To(Succeed())
	g.Eventually(first.seen).Should(Equal([]string{"initial before=1", "add live=a", "update live=b", "delete live=b"}), "in order")

	// A second subscriber shares the same list+watch and starts from the current state.
	second := &recorder{}
	g.Expect(w.Subscribe(t.Context(), key, "second", second.handle)).To(Succeed())
	g.Expect(w.Active()).To(HaveLen(1))
	g.Eventually(second.seen).Should(Equal([]string{"initial before=1"}))

	// The last one out stops the watch; events stop arriving.
	w.Unsubscribe(key, "first")
	g.Expect(w.Active()).To(HaveLen(1))
	w.Unsubscribe(key, "second")
	g.Expect(w.Active()).To(BeEmpty())
	g.Expect(env.Client.Create(t.Context(), configMap(ns, "after", "x"))).To(Succeed())
	g.Consistently(second.seen).WithTimeout(time.Second).Should(Equal([]string{"initial before=1"}))
}

func TestAllNamespacesAndOneNamespaceAreSeparateWatches(t *testing.T) {
	g := NewWithT(t)
	a, b := namespace(t), namespace(t)
	w := newWatches(t)
	all, onlyA := &recorder{}, &recorder{}
	g.Expect(w.Subscribe(t.Context(), Key{Resource: configMaps}, "all", all.handle)).To(Succeed())
	g.Expect(w.Subscribe(t.Context(), Key{Resource: configMaps, Namespace: a}, "a", onlyA.handle)).To(Succeed())
	g.Expect(w.Active()).To(HaveLen(2))
	g.Eventually(func() bool {
		return w.Synced(Key{Resource: configMaps}, "all") && w.Synced(Key{Resource: configMaps, Namespace: a}, "a")
	}).WithTimeout(10 * time.Second).Should(BeTrue())
	g.Expect(env.Client.Create(t.Context(), configMap(a, "in-a", "1"))).To(Succeed())
	g.Expect(env.Client.Create(t.Context(), configMap(b, "in-b", "1"))).To(Succeed())
	g.Eventually(all.seen).Should(ContainElements("add in-a=1", "add in-b=1"))
	g.Eventually(onlyA.seen).Should(ContainElement("add in-a=1"))
	g.Consistently(onlyA.seen).WithTimeout(time.Second).ShouldNot(ContainElement("add in-b=1"))
}
