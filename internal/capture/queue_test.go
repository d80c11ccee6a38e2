package capture

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

const (
	create = configv1alpha1.OperationCreate
	update = configv1alpha1.OperationUpdate
	del    = configv1alpha1.OperationDelete
)

func obj(name, value string) *watch.Object {
	u := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"key": value}}}
	u.SetName(name)
	u.SetResourceVersion(value)
	return watch.NewObject(u)
}

// queryByVersion stands in for the attribution query: it names the state it was made from.
func queryByVersion(c *change) attribution.Query {
	return attribution.Query{ResourceVersion: c.state.GetResourceVersion(), Operation: string(c.op)}
}

func TestQueueKeepsEveryChangeInOrderBelowItsLimit(t *testing.T) {
	g := NewWithT(t)
	q := newQueue(10)
	g.Expect(q.push("a", &change{op: create, state: obj("a", "1")}, queryByVersion)).To(BeFalse())
	g.Expect(q.push("b", &change{op: create, state: obj("b", "1")}, queryByVersion)).To(BeFalse())
	g.Expect(q.push("a", &change{op: update, state: obj("a", "2")}, queryByVersion)).To(BeFalse())
	g.Expect(q.paths()).To(Equal([]string{"a", "b"}), "the object waiting longest first")
	g.Expect(q.total).To(Equal(3))

	head, ok := q.head("a")
	g.Expect(ok).To(BeTrue())
	g.Expect(head.state.GetResourceVersion()).To(Equal("1"))
	q.pop("a")
	head, _ = q.head("a")
	g.Expect(head.state.GetResourceVersion()).To(Equal("2"))
	q.pop("a")
	g.Expect(q.has("a")).To(BeFalse())
	g.Expect(q.paths()).To(Equal([]string{"b"}))
	g.Expect(q.total).To(Equal(1))
}

func TestQueueUnderPressureFoldsAnObjectsChangesAndKeepsTheirAuthors(t *testing.T) {
	g := NewWithT(t)
	q := newQueue(2)
	q.push("a", &change{op: create, state: obj("a", "1")}, queryByVersion)
	q.push("b", &change{op: create, state: obj("b", "1")}, queryByVersion)
	// Full: a's next changes fold into its waiting one.
	g.Expect(q.push("a", &change{op: update, state: obj("a", "2")}, queryByVersion)).To(BeTrue())
	g.Expect(q.push("a", &change{op: update, state: obj("a", "3")}, queryByVersion)).To(BeTrue())
	g.Expect(q.total).To(Equal(2), "memory stays bounded")
	head, _ := q.head("a")
	g.Expect(head.op).To(Equal(create), "created, then changed: still a creation")
	g.Expect(head.state.GetResourceVersion()).To(Equal("3"), "the latest state wins")
	g.Expect(head.earlier).To(Equal([]attribution.Query{
		{ResourceVersion: "1", Operation: "CREATE"}, {ResourceVersion: "2", Operation: "CREATE"},
	}), "the folded changes are still asked for their authors")

	// A change being committed takes no later state: the next one queues behind it.
	g.Expect(q.push("a", &change{op: update, state: obj("a", "4")}, queryByVersion)).To(BeFalse())
	g.Expect(q.total).To(Equal(3))
	// A new object is never dropped, whatever the pressure.
	g.Expect(q.push("c", &change{op: create, state: obj("c", "1")}, queryByVersion)).To(BeFalse())
	g.Expect(q.paths()).To(Equal([]string{"a", "b", "c"}))
}

func TestFoldOperations(t *testing.T) {
	for _, tc := range []struct{ first, then, want configv1alpha1.OperationType }{
		{create, update, create},
		{create, del, del},
		{update, update, update},
		{update, del, del},
		{del, create, update},
	} {
		if got := foldOperations(tc.first, tc.then); got != tc.want {
			t.Errorf("%s then %s: got %s, want %s", tc.first, tc.then, got, tc.want)
		}
	}
}
