package watch

import (
	"math"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestAnObjectDecodesToWhatItWasMadeFromAsAFreshCopy(t *testing.T) {
	g := NewWithT(t)
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": "team-a", "resourceVersion": "42", "uid": "u-1",
			"labels": map[string]any{"app": "ü\u2028<>&"}},
		"spec": map[string]any{
			"replicas": int64(3), "big": int64(math.MaxInt64), "negative": int64(-7), "ratio": 0.25,
			"on": true, "none": nil, "list": []any{int64(1), "two", map[string]any{"three": 3.5}}, "empty": map[string]any{},
		},
	}}
	want := u.DeepCopy()
	o := NewObject(u)
	g.Expect(o.GetNamespace()).To(Equal("team-a"))
	g.Expect(o.GetName()).To(Equal("w"))
	g.Expect(o.GetResourceVersion()).To(Equal("42"))
	g.Expect(string(o.GetUID())).To(Equal("u-1"))
	g.Expect(o.String()).To(Equal("team-a/w"))

	got, err := o.Decode()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Object).To(Equal(want.Object), "integers stay int64, as the dynamic client decodes them")

	got.SetName("changed")
	again, err := o.Decode()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again.GetName()).To(Equal("w"), "each Decode is the caller's own copy")
}

func TestAnObjectThatCannotBeEncodedIsKeptWhole(t *testing.T) {
	g := NewWithT(t)
	u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "odd"}, "spec": math.NaN()}}
	o := NewObject(u)
	got, err := o.Decode()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.GetName()).To(Equal("odd"))
	g.Expect(got.Object).To(HaveKey("spec"))
}
