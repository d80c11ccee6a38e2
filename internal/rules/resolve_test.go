package rules

import (
	"testing"

	. "github.com/onsi/gomega"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

var catalog = Catalog{
	{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true, Preferred: true, Watchable: true},
	{Version: "v1", Resource: "secrets", Kind: "Secret", Namespaced: true, Preferred: true, Watchable: true},
	{Version: "v1", Resource: "namespaces", Kind: "Namespace", Preferred: true, Watchable: true},
	{Version: "v1", Resource: "events", Kind: "Event", Namespaced: true, Preferred: true, Watchable: true},
	{Version: "v1", Resource: "bindings", Kind: "Binding", Namespaced: true, Preferred: true},
	{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true, Preferred: true, Watchable: true},
	{Group: "example.com", Version: "v1", Resource: "widgets", Kind: "Widget", Namespaced: true, Preferred: true, Watchable: true},
	{Group: "example.com", Version: "v1beta1", Resource: "widgets", Kind: "Widget", Namespaced: true, Watchable: true},
}

func names(rs []configv1alpha1.ResolvedResource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Group+"/"+r.Version+"/"+r.Resource)
	}
	return out
}

func TestResolve(t *testing.T) {
	cases := []struct {
		name     string
		rule     configv1alpha1.ResourceRule
		scope    Scope
		want     []string
		problems []string
	}{
		{"the quick start", configv1alpha1.ResourceRule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
			NamespacedOnly, []string{"/v1/configmaps"}, nil},
		{"empty groups mean every group", configv1alpha1.ResourceRule{Resources: []string{"widgets", "deployments"}},
			NamespacedOnly, []string{"apps/v1/deployments", "example.com/v1/widgets"}, nil},
		{"a named version", configv1alpha1.ResourceRule{APIGroups: []string{"example.com"}, APIVersions: []string{"v1beta1"}, Resources: []string{"widgets"}},
			NamespacedOnly, []string{"example.com/v1beta1/widgets"}, nil},
		{"wildcard skips events and unwatchable resources", configv1alpha1.ResourceRule{APIGroups: []string{""}, Resources: []string{"*"}},
			NamespacedOnly, []string{"/v1/configmaps", "/v1/secrets"}, nil},
		{"events when named", configv1alpha1.ResourceRule{Resources: []string{"events"}},
			NamespacedOnly, []string{"/v1/events"}, nil},
		{"a typo", configv1alpha1.ResourceRule{APIGroups: []string{""}, Resources: []string{"configmap"}},
			NamespacedOnly, nil, []string{`configmap: not served in API groups [""]`}},
		{"a cluster resource in a WatchRule", configv1alpha1.ResourceRule{Resources: []string{"namespaces"}},
			NamespacedOnly, nil, []string{"namespaces: is cluster-scoped; select it with a ClusterWatchRule"}},
		{"a cluster resource in a ClusterWatchRule", configv1alpha1.ResourceRule{Resources: []string{"namespaces", "configmaps"}},
			AnyScope, []string{"/v1/configmaps", "/v1/namespaces"}, nil},
		{"scope Cluster", configv1alpha1.ResourceRule{Resources: []string{"namespaces", "configmaps"}},
			ClusterOnly, []string{"/v1/namespaces"}, []string{"configmaps: is namespaced, but the rule has scope Cluster"}},
		{"not watchable", configv1alpha1.ResourceRule{Resources: []string{"bindings"}},
			NamespacedOnly, nil, []string{"bindings: cannot be listed and watched"}},
		{"a version not served", configv1alpha1.ResourceRule{APIGroups: []string{"apps"}, APIVersions: []string{"v1beta2"}, Resources: []string{"deployments"}},
			NamespacedOnly, nil, []string{`deployments: not served in API groups ["apps"] at versions ["v1beta2"]`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, problems := Resolve(tc.rule, tc.scope, catalog)
			g.Expect(names(got)).To(Equal(tc.want))
			var ps []string
			for _, p := range problems {
				ps = append(ps, p.String())
			}
			g.Expect(ps).To(Equal(tc.problems))
			for _, r := range got {
				g.Expect(r.SyncTo).To(Equal(configv1alpha1.SyncToGit))
			}
		})
	}
}
