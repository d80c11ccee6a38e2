package route

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

func object(ns, name string, labels map[string]string, controlledBy string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(labels)
	if controlledBy != "" {
		yes := true
		u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: controlledBy, UID: "u", Controller: &yes}})
	}
	return u
}

func TestMatcher(t *testing.T) {
	quickStart := configv1alpha1.ResourceRule{
		Operations: []configv1alpha1.OperationType{"CREATE", "UPDATE", "DELETE"},
		APIGroups:  []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"},
	}
	onlyCreate := configv1alpha1.ResourceRule{Operations: []configv1alpha1.OperationType{"CREATE"}, Resources: []string{"configmaps"}}
	web := configv1alpha1.ResourceRule{Resources: []string{"*"}, Labels: &configv1alpha1.LabelSelector{
		MatchExpressions: []configv1alpha1.LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"web"}}}}}
	replicaSets := configv1alpha1.ResourceRule{Resources: []string{"replicasets"}}
	payments := Scope{NamespaceSelector: &configv1alpha1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}}

	cases := []struct {
		name  string
		rule  configv1alpha1.ResourceRule
		scope Scope
		c     Change
		want  bool
	}{
		{"quick start create", quickStart, Scope{Namespace: "default"}, Change{Operation: "CREATE", Resource: "configmaps", Object: object("default", "a", nil, "")}, true},
		{"another namespace", quickStart, Scope{Namespace: "default"}, Change{Operation: "CREATE", Resource: "configmaps", Object: object("other", "a", nil, "")}, false},
		{"operation not listed", onlyCreate, Scope{}, Change{Operation: "DELETE", Resource: "configmaps", Object: object("default", "a", nil, "")}, false},
		{"all operations by default", configv1alpha1.ResourceRule{Resources: []string{"configmaps"}}, Scope{},
			Change{Operation: "DELETE", Resource: "configmaps", Object: object("default", "a", nil, "")}, true},
		{"* operation", configv1alpha1.ResourceRule{Operations: []configv1alpha1.OperationType{"*"}, Resources: []string{"configmaps"}}, Scope{},
			Change{Operation: "UPDATE", Resource: "configmaps", Object: object("default", "a", nil, "")}, true},
		{"label selector matches", web, Scope{}, Change{Operation: "UPDATE", Resource: "services", Object: object("default", "s", map[string]string{"tier": "web"}, "")}, true},
		{"label selector does not", web, Scope{}, Change{Operation: "UPDATE", Resource: "services", Object: object("default", "s", map[string]string{"tier": "db"}, "")}, false},
		{"namespace selector matches", quickStart, payments, Change{Operation: "UPDATE", Resource: "configmaps",
			Object: object("pay", "a", nil, ""), NamespaceLabels: map[string]string{"team": "payments"}}, true},
		{"namespace selector does not", quickStart, payments, Change{Operation: "UPDATE", Resource: "configmaps",
			Object: object("web", "a", nil, ""), NamespaceLabels: map[string]string{"team": "web"}}, false},
		{"cluster-scoped objects ignore the namespace selector", configv1alpha1.ResourceRule{Resources: []string{"namespaces"}}, payments,
			Change{Operation: "CREATE", Resource: "namespaces", Object: object("", "pay", nil, "")}, true},
		{"controlled objects are derived state", configv1alpha1.ResourceRule{Resources: []string{"*"}}, Scope{},
			Change{Operation: "CREATE", Resource: "replicasets", Object: object("default", "web-5d4f", nil, "web")}, false},
		{"unless the rule names them", replicaSets, Scope{},
			Change{Operation: "CREATE", Resource: "replicasets", Object: object("default", "web-5d4f", nil, "web")}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			m, err := Compile(tc.rule, tc.scope)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(m.Matches(tc.c)).To(Equal(tc.want))
		})
	}
}

func TestABadSelectorIsAnError(t *testing.T) {
	_, err := Compile(configv1alpha1.ResourceRule{Resources: []string{"x"}, Labels: &configv1alpha1.LabelSelector{
		MatchLabels: map[string]string{"bad key!": "v"}}}, Scope{})
	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("compiling labels")))
}

// The first rule that selects an object decides its direction, as git-controller's ordered rules
// do; rules with filters claim fields, not whole objects.
func TestFirstRuleDecides(t *testing.T) {
	g := NewWithT(t)
	compile := func(rule configv1alpha1.ResourceRule) *Matcher {
		m, err := Compile(rule, Scope{Namespace: "apps"})
		g.Expect(err).NotTo(HaveOccurred())
		return m
	}
	kube := compile(configv1alpha1.ResourceRule{Resources: []string{"configmaps"}, SyncTo: configv1alpha1.SyncToKubernetes,
		Labels: &configv1alpha1.LabelSelector{MatchLabels: map[string]string{"sync": "kube"}}})
	git := compile(configv1alpha1.ResourceRule{Resources: []string{"configmaps"}})
	fields := compile(configv1alpha1.ResourceRule{Resources: []string{"configmaps"}, Filters: []string{"/metadata/annotations"}})
	ordered := []*Matcher{kube, git}

	g.Expect(First(ordered, "configmaps", object("apps", "a", map[string]string{"sync": "kube"}, ""), nil)).To(BeIdenticalTo(kube))
	g.Expect(First(ordered, "configmaps", object("apps", "b", nil, ""), nil)).To(BeIdenticalTo(git))
	g.Expect(First([]*Matcher{git, kube}, "configmaps", object("apps", "a", map[string]string{"sync": "kube"}, ""), nil)).To(BeIdenticalTo(git))
	g.Expect(First(ordered, "configmaps", object("other", "a", nil, ""), nil)).To(BeNil())

	g.Expect(kube.Applies()).To(BeTrue())
	g.Expect(kube.Captures()).To(BeFalse())
	g.Expect(git.Captures()).To(BeTrue())
	g.Expect(git.SyncTo).To(Equal(configv1alpha1.SyncToGit))
	g.Expect(fields.Captures()).To(BeFalse())
	g.Expect(fields.Applies()).To(BeFalse())
	g.Expect(kube.MaySelectIn("apps", nil)).To(BeTrue())
	g.Expect(kube.MaySelectIn("other", nil)).To(BeFalse())
}
