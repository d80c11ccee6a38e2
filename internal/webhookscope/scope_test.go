package webhookscope

import (
	"testing"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestRulesAreOnePerGroupOfTheCapturedResourcesAndNoneForNone(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Rules(nil)).To(BeEmpty(), "no resources: a webhook that matches nothing")

	rules := Rules([]schema.GroupResource{
		{Group: "apps", Resource: "deployments"}, {Resource: "secrets"}, {Resource: "configmaps"},
		{Group: "apps", Resource: "statefulsets"}, {Resource: "configmaps"},
	})
	all := admissionregistrationv1.AllScopes
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete}
	g.Expect(rules).To(Equal([]admissionregistrationv1.RuleWithOperations{
		{Operations: ops, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"*"}, Resources: []string{"configmaps", "secrets"}, Scope: &all}},
		{Operations: ops, Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"*"}, Resources: []string{"deployments", "statefulsets"}, Scope: &all}},
	}))
	g.Expect(describe(rules)).To(Equal([]string{"configmaps", "secrets", "deployments.apps", "statefulsets.apps"}))
}

func TestRulesReadBackAsTheirResourcesAndWildcardsAreToldApart(t *testing.T) {
	g := NewWithT(t)
	in := []schema.GroupResource{{Resource: "configmaps"}, {Group: "apps", Resource: "deployments"}}
	back, wildcard := resourcesOf(Rules(in))
	g.Expect(wildcard).To(BeFalse())
	g.Expect(back).To(ConsistOf(in))

	for _, r := range []admissionregistrationv1.Rule{
		{APIGroups: []string{"*"}, Resources: []string{"*"}},
		{APIGroups: []string{""}, Resources: []string{"*"}},
		{APIGroups: []string{""}, Resources: []string{"pods/status"}},
	} {
		_, wildcard := resourcesOf([]admissionregistrationv1.RuleWithOperations{{Rule: r}})
		g.Expect(wildcard).To(BeTrue(), "%+v", r)
	}
}
