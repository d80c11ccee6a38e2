package fields

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {team: a}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: app:1
          args: [--port, "80"]
          ports: [{containerPort: 80}]
        - name: sidecar
          image: proxy:1
          volumeMounts: [{name: data, mountPath: /data}]
`

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func pointers(t *testing.T, ss ...string) []Pointer {
	t.Helper()
	var out []Pointer
	for _, s := range ss {
		p, err := ParsePointer(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func walker() Walker {
	return Walker{GVK: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Keys: SchemeKeys(clientgoscheme.Scheme)}
}

func paths(ls []Leaf) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Path.String())
	}
	return out
}

func TestListElementsAreKeyedByTheirMergeKeySoReorderingMovesNothing(t *testing.T) {
	g := NewWithT(t)
	obj := decode(t, deployment)
	all := Ownership{Rest: ToGit}
	got := paths(all.Pick(walker(), obj, ToGit))
	g.Expect(got).To(ConsistOf(
		"/apiVersion", "/kind", "/metadata/name", "/metadata/annotations/team", "/spec/replicas",
		"/spec/template/spec/containers/app/name", "/spec/template/spec/containers/app/image",
		"/spec/template/spec/containers/app/args", // a list of scalars is one field
		"/spec/template/spec/containers/app/ports/80/containerPort",
		"/spec/template/spec/containers/sidecar/name", "/spec/template/spec/containers/sidecar/image",
		// volumeMounts are keyed by mountPath, as the API's patchMergeKey says, not by name
		"/spec/template/spec/containers/sidecar/volumeMounts/~1data/name",
		"/spec/template/spec/containers/sidecar/volumeMounts/~1data/mountPath",
	))

	reordered := decode(t, deployment)
	cs := reordered["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	list := cs["containers"].([]any)
	cs["containers"] = []any{list[1], list[0]}
	g.Expect(paths(all.Pick(walker(), reordered, ToGit))).To(Equal(paths(all.Pick(walker(), obj, ToGit))))
	g.Expect(all.Changed(walker(), obj, reordered, ToGit)).To(BeEmpty())

	// A kind the scheme does not know: lists of objects with a name are keyed by it.
	crd := decode(t, "apiVersion: x/v1\nkind: Widget\nspec:\n  parts: [{name: a, size: 1}, {size: 2}]\n")
	w := Walker{GVK: schema.GroupVersionKind{Group: "x", Version: "v1", Kind: "Widget"}, Keys: SchemeKeys(clientgoscheme.Scheme)}
	g.Expect(paths(all.Pick(w, crd, ToGit))).To(ConsistOf("/apiVersion", "/kind", "/spec/parts/0/name", "/spec/parts/0/size", "/spec/parts/1/size"))
}

func TestRulesInOrderSplitTheFields(t *testing.T) {
	g := NewWithT(t)
	images := Rule{Direction: ToGit, Filters: pointers(t, "/spec/template/spec/containers/*/image"), Origin: "rule 1"}
	rest := Rule{Direction: ToKubernetes, Origin: "rule 2"}
	never := Rule{Direction: ToGit, Filters: pointers(t, "/spec/replicas"), Origin: "rule 3"}
	o := Own([]Rule{images, rest, never})
	g.Expect(o.Rest).To(Equal(ToKubernetes))
	g.Expect(o.Claims).To(HaveLen(1)) // rule 3 comes after a rule without filters: it claims nothing
	_, whole := o.Whole()
	g.Expect(whole).To(BeFalse())

	obj := decode(t, deployment)
	g.Expect(paths(o.Pick(walker(), obj, ToGit))).To(Equal([]string{
		"/spec/template/spec/containers/app/image", "/spec/template/spec/containers/sidecar/image",
	}))
	g.Expect(paths(o.Pick(walker(), obj, ToKubernetes))).To(ContainElements("/spec/replicas", "/spec/template/spec/containers/app/name"))

	// The image updater changes one image: one git field changed, nothing of the cluster's.
	live := decode(t, deployment)
	g.Expect(Set(live, mustPath(t, obj, "/spec/template/spec/containers/app/image"), "app:2")).To(Succeed())
	changed := o.Changed(walker(), obj, live, ToGit)
	g.Expect(changed).To(HaveLen(1))
	g.Expect(changed[0].String()).To(Equal("/spec/template/spec/containers/app/image"))
	g.Expect(o.Changed(walker(), obj, live, ToKubernetes)).To(BeEmpty())

	// Only a filtered rule: everything else is nobody's.
	annotations := Own([]Rule{{Direction: ToGit, Filters: pointers(t, "/metadata/annotations")}})
	g.Expect(annotations.Of(mustPath(t, obj, "/metadata/annotations/team"))).To(Equal(ToGit))
	g.Expect(annotations.Of(mustPath(t, obj, "/spec/replicas"))).To(Equal(Unclaimed))

	g.Expect(Shadowed([]Rule{
		{Direction: ToGit, Filters: pointers(t, "/spec"), Origin: "rule 1"},
		{Direction: ToKubernetes, Filters: pointers(t, "/spec/replicas"), Origin: "rule 2"},
		{Direction: ToGit, Filters: pointers(t, "/metadata/labels"), Origin: "rule 3"},
	})).To(Equal([]string{
		"filter /spec/replicas of rule 2 (syncTo: kubernetes) overlaps filter /spec of rule 1 (syncTo: git), which comes first and wins where they meet",
	}))
}

// mustPath finds the path printed as s among obj's fields and their ancestors.
func mustPath(t *testing.T, obj map[string]any, s string) Path {
	t.Helper()
	for _, l := range walker().Leaves(obj) {
		for i := len(l.Path); i > 0; i-- {
			if l.Path[:i].String() == s {
				return l.Path[:i]
			}
		}
	}
	t.Fatalf("no field %s", s)
	return nil
}

func TestSetAndRemoveByKey(t *testing.T) {
	g := NewWithT(t)
	obj := decode(t, deployment)
	image := mustPath(t, obj, "/spec/template/spec/containers/sidecar/image")
	g.Expect(Set(obj, image, "proxy:2")).To(Succeed())
	v, ok := Get(obj, image)
	g.Expect(ok).To(BeTrue())
	g.Expect(v).To(Equal("proxy:2"))

	// A container Git does not have yet is added with its key.
	added := Path{FieldElement("spec"), FieldElement("template"), FieldElement("spec"), FieldElement("containers"),
		KeyElement("name", "new"), FieldElement("image")}
	g.Expect(Set(obj, added, "new:1")).To(Succeed())
	v, _ = Get(obj, added[:5])
	g.Expect(v).To(Equal(map[string]any{"name": "new", "image": "new:1"}))

	team := mustPath(t, obj, "/metadata/annotations/team")
	g.Expect(Remove(obj, team)).To(BeTrue())
	_, ok = Get(obj, team[:2])
	g.Expect(ok).To(BeFalse(), "the emptied annotations map goes too")
	g.Expect(Remove(obj, team)).To(BeFalse())
	g.Expect(Set(obj, Path{FieldElement("spec"), FieldElement("replicas"), FieldElement("x")}, 1)).To(HaveOccurred())
}

func TestManagedFieldsSayWhoOwnsAField(t *testing.T) {
	g := NewWithT(t)
	obj := decode(t, deployment)
	entries := []metav1.ManagedFieldsEntry{
		{Manager: "gitops-reverser", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: &metav1.FieldsV1{Raw: []byte(
			`{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:name":{},"f:args":{}}}}}}}`)}},
		{Manager: "kubectl-set", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: &metav1.FieldsV1{Raw: []byte(
			`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{"f:image":{}}}}}}}`)}},
	}
	ours, err := ManagedBy(entries, "gitops-reverser", metav1.ManagedFieldsOperationApply)
	g.Expect(err).NotTo(HaveOccurred())
	others, err := ManagedByOthers(entries, "gitops-reverser")
	g.Expect(err).NotTo(HaveOccurred())
	image := mustPath(t, obj, "/spec/template/spec/containers/app/image")
	g.Expect(ours.Owns(mustPath(t, obj, "/spec/replicas"))).To(BeTrue())
	g.Expect(ours.Owns(mustPath(t, obj, "/spec/template/spec/containers/app/args"))).To(BeTrue())
	g.Expect(ours.Owns(image)).To(BeFalse())
	g.Expect(others.Owns(image)).To(BeTrue())
	g.Expect(others.Owns(mustPath(t, obj, "/spec/template/spec/containers/sidecar/image"))).To(BeFalse())
}

func TestPointers(t *testing.T) {
	g := NewWithT(t)
	for _, bad := range []string{"", "spec", "/spec//x", "/a~2"} {
		_, err := ParsePointer(bad)
		g.Expect(err).To(HaveOccurred(), bad)
	}
	p := pointers(t, "/metadata/annotations/example.com~1owner")[0]
	path := Path{FieldElement("metadata"), FieldElement("annotations"), FieldElement("example.com/owner")}
	g.Expect(p.Covers(path)).To(BeTrue())
	g.Expect(path.String()).To(Equal("/metadata/annotations/example.com~1owner"))
	g.Expect(pointers(t, "/metadata/*")[0].Covers(path)).To(BeTrue())
	g.Expect(pointers(t, "/metadata/labels")[0].Covers(path)).To(BeFalse())
	g.Expect(pointers(t, "/metadata/annotations/x/y")[0].Reaches(path[:2])).To(BeTrue())
}

func TestFiltersAreCheckedAgainstTheKindsSchema(t *testing.T) {
	g := NewWithT(t)
	deploy := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	for _, ok := range []string{"/spec/template/spec/containers/*/image", "/metadata/annotations", "/metadata/annotations/a~1b",
		"/spec/replicas", "/spec/template/spec/containers/app/resources/limits/cpu", "/metadata/creationTimestamp", "/spec/*"} {
		g.Expect(CheckPointer(clientgoscheme.Scheme, deploy, pointers(t, ok)[0])).To(Succeed(), ok)
	}
	g.Expect(CheckPointer(clientgoscheme.Scheme, deploy, pointers(t, "/spec/template/spec/containers/*/imag")[0])).To(
		MatchError("filter /spec/template/spec/containers/*/imag: Container has no field \"imag\" (at /spec/template/spec/containers/*/imag)"))
	g.Expect(CheckPointer(clientgoscheme.Scheme, deploy, pointers(t, "/spec/replicas/x")[0])).To(
		MatchError("filter /spec/replicas/x: /spec/replicas is a value, it has no fields"))
	widget := schema.GroupVersionKind{Group: "x", Version: "v1", Kind: "Widget"}
	g.Expect(CheckPointer(clientgoscheme.Scheme, widget, pointers(t, "/anything/at/all")[0])).To(Succeed())
}
