package controller

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

func watchRuleReady(t *testing.T, ns, name string) func() string {
	rule := &configv1alpha1.WatchRule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	return readyOf(t, rule, func() []metav1.Condition { return rule.Status.Conditions })
}

func createWatchRule(t *testing.T, ns, name, target string, rules ...configv1alpha1.ResourceRule) {
	t.Helper()
	NewWithT(t).Expect(env.Client.Create(t.Context(), &configv1alpha1.WatchRule{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       configv1alpha1.WatchRuleSpec{TargetRef: configv1alpha1.LocalObjectReference{Name: target}, Rules: rules},
	})).To(Succeed())
}

// readyTarget makes a connected provider and a Ready GitTarget named "live" in ns.
func readyTarget(t *testing.T, ns string) {
	t.Helper()
	connectedProvider(t, ns, "repo", "*")
	createTarget(t, ns, "live", "repo", "main", "live-"+ns)
	NewWithT(t).Eventually(targetReady(t, ns, "live")).WithTimeout(30 * time.Second).Should(HavePrefix("True"))
}

func TestTheQuickStartWatchRuleResolvesConfigMaps(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	createWatchRule(t, ns, "only-configmaps", "live", configv1alpha1.ResourceRule{
		Operations: []configv1alpha1.OperationType{"CREATE", "UPDATE", "DELETE"},
		APIGroups:  []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"},
	})
	g.Eventually(watchRuleReady(t, ns, "only-configmaps")).WithTimeout(30 * time.Second).
		Should(Equal(fmt.Sprintf("False TargetNotFound: GitTarget live not found in namespace %s", ns)))

	readyTarget(t, ns)
	g.Eventually(watchRuleReady(t, ns, "only-configmaps")).WithTimeout(30 * time.Second).
		Should(Equal("True ResourcesResolved: watching 1 resources"))
	rule := &configv1alpha1.WatchRule{}
	g.Expect(env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "only-configmaps"}, rule)).To(Succeed())
	g.Expect(rule.Status.Resources).To(Equal([]configv1alpha1.ResolvedResource{
		{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true, SyncTo: configv1alpha1.SyncToGit},
	}))
	g.Expect(rule.Status.ObservedGeneration).To(Equal(rule.Generation))
}

func TestARuleNamingWhatIsNotServedSaysSo(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	readyTarget(t, ns)
	createWatchRule(t, ns, "typo", "live",
		configv1alpha1.ResourceRule{APIGroups: []string{""}, Resources: []string{"configmap", "secrets"}},
		configv1alpha1.ResourceRule{Resources: []string{"namespaces"}})
	g.Eventually(watchRuleReady(t, ns, "typo")).WithTimeout(30 * time.Second).Should(Equal(
		`False ResourceNotFound: rule 1: configmap: not served in API groups [""]; ` +
			`rule 2: namespaces: is cluster-scoped; select it with a ClusterWatchRule (the other 1 resources are watched)`))
}

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

func TestACRDCreatedAfterTheRuleIsPickedUpAndDroppedWhenDeleted(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	readyTarget(t, ns)
	createWatchRule(t, ns, "widgets", "live", configv1alpha1.ResourceRule{APIGroups: []string{"example.com"}, Resources: []string{"widgets"}})
	g.Eventually(watchRuleReady(t, ns, "widgets")).WithTimeout(30 * time.Second).
		Should(Equal(`False ResourceNotFound: rule 1: widgets: not served in API groups ["example.com"]`))

	crd := &unstructured.Unstructured{}
	g.Expect(yaml.Unmarshal([]byte(widgetCRD), &crd.Object)).To(Succeed())
	g.Expect(env.Client.Create(t.Context(), crd)).To(Succeed())
	g.Eventually(watchRuleReady(t, ns, "widgets")).WithTimeout(30 * time.Second).Should(Equal("True ResourcesResolved: watching 1 resources"))

	g.Expect(env.Client.Delete(t.Context(), crd)).To(Succeed())
	g.Eventually(watchRuleReady(t, ns, "widgets")).WithTimeout(60 * time.Second).
		Should(HavePrefix("False ResourceNotFound: rule 1: widgets: not served"))
}

func TestTheClusterWatchRuleSampleResolves(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	readyTarget(t, ns)
	rule := &configv1alpha1.ClusterWatchRule{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-config-" + ns},
		Spec: configv1alpha1.ClusterWatchRuleSpec{
			TargetRef: configv1alpha1.NamespacedObjectReference{Namespace: ns, Name: "live"},
			Rules: []configv1alpha1.ClusterResourceRule{
				{Scope: configv1alpha1.ScopeCluster, ResourceRule: configv1alpha1.ResourceRule{
					APIGroups: []string{"", "rbac.authorization.k8s.io"}, Resources: []string{"namespaces", "clusterroles", "clusterrolebindings"}}},
				{Scope: configv1alpha1.ScopeNamespaced, ResourceRule: configv1alpha1.ResourceRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}},
					NamespaceSelector: &configv1alpha1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}},
			},
		},
	}
	g.Expect(env.Client.Create(t.Context(), rule)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(t.Context(), rule) })
	g.Eventually(readyOf(t, rule, func() []metav1.Condition { return rule.Status.Conditions })).WithTimeout(30 * time.Second).
		Should(Equal("True ResourcesResolved: watching 4 resources"))
	var got []string
	for _, r := range rule.Status.Resources {
		got = append(got, fmt.Sprintf("%s/%s/%s namespaced=%v", r.Group, r.Version, r.Resource, r.Namespaced))
	}
	// In rule order, sorted within each rule.
	g.Expect(got).To(Equal([]string{
		"/v1/namespaces namespaced=false",
		"rbac.authorization.k8s.io/v1/clusterrolebindings namespaced=false",
		"rbac.authorization.k8s.io/v1/clusterroles namespaced=false",
		"apps/v1/deployments namespaced=true",
	}))
}

func TestAnInvalidLabelSelectorIsReported(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	createWatchRule(t, ns, "bad-selector", "live", configv1alpha1.ResourceRule{
		Resources: []string{"configmaps"},
		Labels:    &configv1alpha1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}},
	})
	g.Eventually(watchRuleReady(t, ns, "bad-selector")).WithTimeout(30 * time.Second).
		Should(MatchRegexp(`^False InvalidSelector: rule 1: compiling labels: .*bad key!`))
}

func TestFiltersThatMatchNothingOrOverlapAreReported(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	readyTarget(t, ns)
	filtersValid := func(name string) func() string {
		return func() string {
			rule := &configv1alpha1.WatchRule{}
			if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, rule); err != nil {
				return err.Error()
			}
			for _, c := range rule.Status.Conditions {
				if c.Type == configv1alpha1.FiltersValidCondition {
					return string(c.Status) + " " + c.Reason + ": " + c.Message
				}
			}
			return "absent"
		}
	}
	deployments := func(syncTo configv1alpha1.SyncDirection, filters ...string) configv1alpha1.ResourceRule {
		return configv1alpha1.ResourceRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Filters: filters, SyncTo: syncTo}
	}
	createWatchRule(t, ns, "typo", "live", deployments(configv1alpha1.SyncToGit, "/spec/template/spec/containers/*/imag"),
		deployments(configv1alpha1.SyncToKubernetes))
	g.Eventually(filtersValid("typo")).WithTimeout(30 * time.Second).Should(Equal(
		`False FilterMatchesNothing: rule 1: deployments: filter /spec/template/spec/containers/*/imag: Container has no field "imag" (at /spec/template/spec/containers/*/imag)`))
	g.Eventually(watchRuleReady(t, ns, "typo")).Should(HavePrefix("True ResourcesResolved"))

	createWatchRule(t, ns, "overlap", "live", deployments(configv1alpha1.SyncToGit, "/spec"),
		deployments(configv1alpha1.SyncToKubernetes, "/spec/replicas"))
	g.Eventually(filtersValid("overlap")).WithTimeout(30 * time.Second).Should(Equal(
		"False FiltersOverlap: deployments.apps: filter /spec/replicas of rule 2 (syncTo: kubernetes) overlaps filter /spec of rule 1 (syncTo: git), which comes first and wins where they meet"))

	createWatchRule(t, ns, "good", "live", deployments(configv1alpha1.SyncToGit, "/spec/template/spec/containers/*/image"),
		deployments(configv1alpha1.SyncToKubernetes))
	g.Eventually(filtersValid("good")).WithTimeout(30 * time.Second).Should(Equal("True FiltersValid: every filter can match a field"))
	createWatchRule(t, ns, "none", "live", deployments(configv1alpha1.SyncToGit))
	g.Eventually(watchRuleReady(t, ns, "none")).WithTimeout(30 * time.Second).Should(HavePrefix("True"))
	g.Expect(filtersValid("none")()).To(Equal("absent"))
}

func TestOverlappingFiltersOfTwoWatchRulesAreReportedOnTheTarget(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	readyTarget(t, ns)
	deployments := func(syncTo configv1alpha1.SyncDirection, filters ...string) configv1alpha1.ResourceRule {
		return configv1alpha1.ResourceRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Filters: filters, SyncTo: syncTo}
	}
	createWatchRule(t, ns, "a-images", "live", deployments(configv1alpha1.SyncToGit, "/spec/template/spec/containers/*/image"))
	createWatchRule(t, ns, "b-spec", "live", deployments(configv1alpha1.SyncToKubernetes, "/spec"))
	g.Eventually(func() string {
		target := &configv1alpha1.GitTarget{}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "live"}, target); err != nil {
			return err.Error()
		}
		for _, c := range target.Status.Conditions {
			if c.Type == configv1alpha1.FiltersValidCondition {
				return string(c.Status) + " " + c.Reason + ": " + c.Message
			}
		}
		return "absent"
	}).WithTimeout(30 * time.Second).Should(Equal(fmt.Sprintf("False FiltersOverlap: deployments.apps: filter /spec of WatchRule %s/b-spec rules[0] (syncTo: kubernetes) "+
		"overlaps filter /spec/template/spec/containers/*/image of WatchRule %s/a-images rules[0] (syncTo: git), which comes first and wins where they meet", ns, ns)))
}
