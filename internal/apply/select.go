package apply

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/fields"
	"github.com/gitops-reverser/gitops-reverser/internal/route"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// Source is one resource the target's rules resolved to, in one namespace scope, with every rule
// of the target for that resource in the order that decides direction.
type Source struct {
	Resource   schema.GroupVersionResource
	Kind       string
	Namespaced bool
	// Namespace is the WatchRule's namespace, or "" for all namespaces and cluster-scoped ones.
	Namespace string
	Rules     []*route.Matcher
}

// Selected is a manifest to apply, with the rule that selected it.
type Selected struct {
	Manifest
	ID       ObjectID
	Resource schema.GroupVersionResource
	Rule     *route.Matcher
	// Split is set when only some of the object's fields go Git → cluster.
	Split *Split
}

// Split is how an object whose fields go both ways is applied.
type Split struct {
	Ownership fields.Ownership
	Walker    fields.Walker
}

// Whole reports whether the apply side owns the object itself: creates and prunes it.
func (s Selected) Whole() bool {
	return s.Split == nil || s.Split.Ownership.Rest == fields.ToKubernetes
}

// Scope answers what selection needs to know of the cluster.
type Scope struct {
	// DefaultNamespace is given to namespaced objects whose manifest names none: the
	// GitTarget's namespace.
	DefaultNamespace string
	// NamespaceLabels returns a namespace's labels, for rules with a namespaceSelector.
	NamespaceLabels func(ns string) map[string]string
	// Resource maps a kind the rules do not resolve to its resource and scope; it fails for
	// kinds the API server does not serve. Optional.
	Resource func(gk schema.GroupKind) (resource string, namespaced bool, err error)
	// Keys identify list elements, for objects split between the directions.
	Keys fields.ListKeys
}

// selectManifests keeps the manifests some of whose fields a rule applies (all of them when the
// rules give the apply side every field, see route.ApplyingRule), and
// reports those that a rule would apply but may not: another namespace than a WatchRule's own, or
// a cluster-scoped kind in a folder only WatchRules apply. An object defined twice is applied
// once, from its first file, and the second is reported.
func selectManifests(manifests []Manifest, sources []Source, scope Scope) ([]Selected, []Problem) {
	byKind := map[schema.GroupKind]*Source{}
	var confined []*route.Matcher // apply rules held to one namespace
	for i := range sources {
		src := &sources[i]
		gk := schema.GroupKind{Group: src.Resource.Group, Kind: src.Kind}
		if byKind[gk] == nil {
			byKind[gk] = src
		}
		for _, r := range src.Rules {
			if r.AppliesFields() && r.Namespace() != "" {
				confined = append(confined, r)
			}
		}
	}
	seen := map[ObjectID]string{}
	var out []Selected
	var problems []Problem
	for _, m := range manifests {
		obj := m.Object
		gk := obj.GroupVersionKind().GroupKind()
		src := byKind[gk]
		if src == nil {
			if p, refused := clusterScopedRefusal(m, gk, confined, scope); refused {
				problems = append(problems, p)
			}
			continue // no rule selects this kind: not ours to apply
		}
		switch {
		case src.Namespaced && obj.GetNamespace() == "":
			obj.SetNamespace(scope.DefaultNamespace)
		case !src.Namespaced:
			obj.SetNamespace("")
		}
		var nsLabels map[string]string
		if ns := obj.GetNamespace(); ns != "" && scope.NamespaceLabels != nil {
			nsLabels = scope.NamespaceLabels(ns)
		}
		if route.First(src.Rules, src.Resource.Resource, obj, nsLabels) == nil {
			if p, refused := namespaceRefusal(m, src, confined); refused {
				problems = append(problems, p)
			}
			continue
		}
		rule, own, _ := route.ApplyingRule(src.Rules, src.Resource.Resource, obj, nsLabels)
		if rule == nil {
			continue // the cluster → Git direction's object
		}
		var split *Split
		if dir, whole := own.Whole(); !whole || dir != fields.ToKubernetes {
			split = &Split{Ownership: own, Walker: fields.Walker{GVK: obj.GroupVersionKind(), Keys: scope.Keys}}
		}
		id := IDOf(obj)
		if where, dup := seen[id]; dup {
			problems = append(problems, Problem{Where: m.Where(), Reason: configv1alpha1.ReasonInvalidManifest,
				Err: fmt.Errorf("%s is already defined in %s; this one is ignored", id.Describe(), where)})
			continue
		}
		seen[id] = m.Where()
		out = append(out, Selected{Manifest: m, ID: id, Resource: src.Resource, Rule: rule, Split: split})
	}
	return out, problems
}

// namespaceRefusal reports an object that a WatchRule's apply rule would select were it in the
// rule's own namespace.
func namespaceRefusal(m Manifest, src *Source, confined []*route.Matcher) (Problem, bool) {
	obj := m.Object
	for _, r := range confined {
		if r.Namespace() == obj.GetNamespace() || !r.Names(src.Resource.Resource) {
			continue
		}
		moved := obj.DeepCopy()
		moved.SetNamespace(r.Namespace())
		if r.Selects(src.Resource.Resource, moved, nil) {
			return Problem{Where: m.Where(), Reason: configv1alpha1.ReasonOutsideScope, Err: fmt.Errorf(
				"%s is in namespace %s, but %s applies only in namespace %s: refused",
				IDOf(obj).Describe(), obj.GetNamespace(), r.Origin, r.Namespace())}, true
		}
	}
	return Problem{}, false
}

// clusterScopedRefusal reports a cluster-scoped object that a WatchRule's apply rule names.
func clusterScopedRefusal(m Manifest, gk schema.GroupKind, confined []*route.Matcher, scope Scope) (Problem, bool) {
	if scope.Resource == nil || len(confined) == 0 {
		return Problem{}, false
	}
	resource, namespaced, err := scope.Resource(gk)
	if err != nil || namespaced {
		return Problem{}, false
	}
	for _, r := range confined {
		if r.Names(resource) {
			return Problem{Where: m.Where(), Reason: configv1alpha1.ReasonOutsideScope, Err: fmt.Errorf(
				"%s is cluster-scoped, and %s applies only namespaced objects of namespace %s (a ClusterWatchRule can apply it): refused",
				IDOf(m.Object).Describe(), r.Origin, r.Namespace())}, true
		}
	}
	return Problem{}, false
}
