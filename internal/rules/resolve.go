package rules

import (
	"fmt"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// Scope says which resources a rule may select.
type Scope int

const (
	// NamespacedOnly: a WatchRule, which watches its own namespace.
	NamespacedOnly Scope = iota
	// AnyScope: a ClusterWatchRule rule without a scope.
	AnyScope
	// ClusterOnly: a ClusterWatchRule rule with scope Cluster.
	ClusterOnly
)

// ScopeOf is the scope a ClusterWatchRule rule asks for.
func ScopeOf(s configv1alpha1.ResourceScope) Scope {
	switch s {
	case configv1alpha1.ScopeCluster:
		return ClusterOnly
	case configv1alpha1.ScopeNamespaced:
		return NamespacedOnly
	}
	return AnyScope
}

// notByWildcard are resources "*" does not select: they describe what happens to other objects
// rather than being configuration, and they change all the time. Naming them selects them.
var notByWildcard = map[schema.GroupResource]bool{
	{Resource: "events"}:                               true,
	{Group: "events.k8s.io", Resource: "events"}:       true,
	{Group: "coordination.k8s.io", Resource: "leases"}: true,
}

// Problem is a name a rule asked for that resolves to nothing usable, with why.
type Problem struct {
	Resource string
	Reason   string
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s", p.Resource, p.Reason) }

// Resolve returns the resources rule selects in catalog within scope, sorted and without
// duplicates, and the names it asks for that are not served or not usable there.
func Resolve(rule configv1alpha1.ResourceRule, scope Scope, catalog Catalog) ([]configv1alpha1.ResolvedResource, []Problem) {
	groupOK := func(g string) bool {
		return len(rule.APIGroups) == 0 || slices.Contains(rule.APIGroups, "*") || slices.Contains(rule.APIGroups, g)
	}
	versionOK := func(r APIResource) bool {
		if len(rule.APIVersions) == 0 || slices.Contains(rule.APIVersions, "*") {
			return r.Preferred
		}
		return slices.Contains(rule.APIVersions, r.Version)
	}
	scopeOK := func(r APIResource) bool {
		switch scope {
		case NamespacedOnly:
			return r.Namespaced
		case ClusterOnly:
			return !r.Namespaced
		}
		return true
	}
	syncTo := rule.SyncTo
	if syncTo == "" {
		syncTo = configv1alpha1.SyncToGit
	}

	seen := map[schema.GroupVersionResource]bool{}
	var out []configv1alpha1.ResolvedResource
	var problems []Problem
	for _, name := range rule.Resources {
		wildcard := name == "*"
		found, usable := false, false
		var why string
		for _, r := range catalog {
			if !groupOK(r.Group) || (!wildcard && r.Resource != name) || !versionOK(r) {
				continue
			}
			if wildcard && notByWildcard[schema.GroupResource{Group: r.Group, Resource: r.Resource}] {
				continue
			}
			found = true
			switch {
			case !r.Watchable:
				why = "cannot be listed and watched"
				continue
			case !scopeOK(r):
				why = scopeProblem(r, scope)
				continue
			}
			usable = true
			if seen[r.GroupVersionResource()] {
				continue
			}
			seen[r.GroupVersionResource()] = true
			out = append(out, configv1alpha1.ResolvedResource{
				Group: r.Group, Version: r.Version, Resource: r.Resource, Kind: r.Kind, Namespaced: r.Namespaced, SyncTo: syncTo,
			})
		}
		switch {
		case wildcard:
		case !found:
			problems = append(problems, Problem{Resource: name, Reason: notServed(rule)})
		case !usable:
			problems = append(problems, Problem{Resource: name, Reason: why})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		return a.Version < b.Version
	})
	return out, problems
}

func scopeProblem(r APIResource, scope Scope) string {
	if scope == NamespacedOnly && !r.Namespaced {
		return "is cluster-scoped; select it with a ClusterWatchRule"
	}
	if scope == ClusterOnly {
		return "is namespaced, but the rule has scope Cluster"
	}
	return "is out of the rule's scope"
}

func notServed(rule configv1alpha1.ResourceRule) string {
	where := "in any API group"
	if len(rule.APIGroups) > 0 && !slices.Contains(rule.APIGroups, "*") {
		where = fmt.Sprintf("in API groups %q", rule.APIGroups)
	}
	if len(rule.APIVersions) > 0 && !slices.Contains(rule.APIVersions, "*") {
		where += fmt.Sprintf(" at versions %q", rule.APIVersions)
	}
	return "not served " + where
}
