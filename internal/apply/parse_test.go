package apply

import (
	"testing"

	. "github.com/onsi/gomega"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/route"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestParseFile(t *testing.T) {
	g := NewWithT(t)
	ms, ps := parseFile("apps/all.yaml", []byte(`# comment
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
---
replicas: 3
---
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [a.yaml]
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
---
apiVersion: v1
kind: ConfigMap
metadata: {generateName: c-}
---
kind: ConfigMap
metadata: {name: d}
---
a: [unclosed
`), nil)
	var names []string
	for _, m := range ms {
		names = append(names, m.Object.GetName())
	}
	g.Expect(names).To(Equal([]string{"a", "b"}))
	var problems []string
	for _, p := range ps {
		problems = append(problems, p.String())
	}
	g.Expect(problems).To(HaveLen(3))
	g.Expect(problems[0]).To(Equal("apps/all.yaml (document 5): ConfigMap has only metadata.generateName: an applied object needs a name"))
	g.Expect(problems[1]).To(Equal("apps/all.yaml (document 6): apiVersion is missing"))
	g.Expect(problems[2]).To(HavePrefix("apps/all.yaml (document 7): not valid YAML"))

	_, ps = parseFile("apps/s.sops.yaml", []byte("sops: {}\n"), nil)
	g.Expect(ps).To(HaveLen(1))
	g.Expect(ps[0].Reason).To(Equal(configv1alpha1.ReasonDecryptionFailed))
	g.Expect(ps[0].String()).To(ContainSubstring("the GitTarget has no age identity"))
}

func TestSelectManifests(t *testing.T) {
	g := NewWithT(t)
	compile := func(rule configv1alpha1.ResourceRule, ns string) *route.Matcher {
		m, err := route.Compile(rule, route.Scope{Namespace: ns})
		g.Expect(err).NotTo(HaveOccurred())
		m.Origin = "rule " + rule.Resources[0]
		return m
	}
	kube := compile(configv1alpha1.ResourceRule{Resources: []string{"configmaps"}, SyncTo: configv1alpha1.SyncToKubernetes,
		Labels: &configv1alpha1.LabelSelector{MatchLabels: map[string]string{"sync": "kube"}}}, "apps")
	git := compile(configv1alpha1.ResourceRule{Resources: []string{"configmaps"}}, "apps")
	all := compile(configv1alpha1.ResourceRule{Resources: []string{"*"}, SyncTo: configv1alpha1.SyncToKubernetes}, "apps")
	sources := []Source{{Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Kind: "ConfigMap", Namespaced: true, Namespace: "apps",
		Rules: []*route.Matcher{kube, git}}}
	ms, ps := parseFile("f.yaml", []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: applied, labels: {sync: kube}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: captured, namespace: apps}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: elsewhere, namespace: other, labels: {sync: kube}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: applied, namespace: apps, labels: {sync: kube}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: admin-ish}
`), nil)
	g.Expect(ps).To(BeEmpty())
	sources = append(sources, Source{Resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Kind: "Deployment",
		Namespaced: true, Namespace: "apps", Rules: []*route.Matcher{all}})
	selected, problems := selectManifests(ms, sources, Scope{DefaultNamespace: "apps",
		Resource: func(gk schema.GroupKind) (string, bool, error) { return "clusterroles", false, nil }})
	g.Expect(selected).To(HaveLen(1))
	g.Expect(selected[0].ID).To(Equal(ObjectID{Namespace: "apps", Name: "applied", Kind: "ConfigMap"}))
	g.Expect(selected[0].Rule).To(BeIdenticalTo(kube))
	var got []string
	for _, p := range problems {
		got = append(got, p.Reason+" "+p.String())
	}
	g.Expect(got).To(Equal([]string{
		"OutsideScope f.yaml (document 3): ConfigMap other/elsewhere is in namespace other, but rule configmaps applies only in namespace apps: refused",
		"InvalidManifest f.yaml (document 4): ConfigMap apps/applied is already defined in f.yaml; this one is ignored",
		"OutsideScope f.yaml (document 5): ClusterRole.rbac.authorization.k8s.io admin-ish is cluster-scoped, and rule * applies only namespaced objects of namespace apps (a ClusterWatchRule can apply it): refused",
	}))
}

func TestCovers(t *testing.T) {
	g := NewWithT(t)
	git := map[string]any{"metadata": map[string]any{"name": "a"}, "spec": map[string]any{"replicas": int64(2), "ports": []any{map[string]any{"port": int64(80)}}}}
	live := map[string]any{"metadata": map[string]any{"name": "a", "uid": "x"}, "spec": map[string]any{"replicas": float64(2), "ports": []any{map[string]any{"port": int64(80), "protocol": "TCP"}}}, "status": map[string]any{}}
	g.Expect(covers(git, live)).To(BeTrue())
	live["spec"].(map[string]any)["replicas"] = int64(5)
	g.Expect(covers(git, live)).To(BeFalse())
	live["spec"].(map[string]any)["replicas"] = int64(2)
	live["spec"].(map[string]any)["ports"] = []any{}
	g.Expect(covers(git, live)).To(BeFalse())
}
