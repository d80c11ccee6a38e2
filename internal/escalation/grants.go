package escalation

import (
	"fmt"
	"reflect"
	"slices"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// Permission is one thing the operator does on behalf of an object's author.
type Permission struct {
	Verb      string
	Group     string
	Resource  string
	Namespace string // empty: every namespace (or a cluster-scoped resource)
	Name      string // empty: every object

	// Because says which object, or which rule of it, needs the permission.
	Because string
}

func (p Permission) key() Permission {
	p.Because = ""
	return p
}

func (p Permission) String() string {
	resource := p.Resource
	if p.Group != "" {
		resource += "." + p.Group
	}
	switch {
	case p.Name != "":
		return fmt.Sprintf("%s %s %s/%s", p.Verb, resource, p.Namespace, p.Name)
	case p.Namespace != "":
		return fmt.Sprintf("%s %s in namespace %s", p.Verb, resource, p.Namespace)
	default:
		return fmt.Sprintf("%s %s in every namespace", p.Verb, resource)
	}
}

var (
	readVerbs  = []string{"get", "list", "watch"}
	applyVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
)

// GroupsOf names the API groups that serve a resource today, for rules that name no group.
type GroupsOf func(resource string) []string

// ruleGrants is what rules make the operator do in namespace ("" for every namespace).
func ruleGrants(namespace string, rules []configv1alpha1.ResourceRule, owner string, groupsOf GroupsOf) []Permission {
	var out []Permission
	for i, r := range rules {
		verbs := readVerbs
		if r.SyncTo == configv1alpha1.SyncToKubernetes {
			verbs = applyVerbs
		}
		because := fmt.Sprintf("rule %d of %s", i+1, owner)
		for _, res := range r.Resources {
			groups := r.APIGroups
			if len(groups) == 0 || slices.Contains(groups, "*") {
				groups = []string{"*"}
				if res != "*" && groupsOf != nil {
					// A rule without groups selects the resource in whichever groups serve it;
					// a role for configmaps in the core group is what a person holds, not one
					// for configmaps in every group.
					if served := groupsOf(res); len(served) > 0 {
						groups = served
					}
				}
			}
			for _, g := range groups {
				for _, v := range verbs {
					out = append(out, Permission{Verb: v, Group: g, Resource: res, Namespace: namespace, Because: because})
				}
			}
		}
	}
	return out
}

// WatchRuleGrants is what a WatchRule makes the operator do.
func WatchRuleGrants(w *configv1alpha1.WatchRule, groupsOf GroupsOf) []Permission {
	return ruleGrants(w.Namespace, w.Spec.Rules, "WatchRule "+w.Namespace+"/"+w.Name, groupsOf)
}

// ClusterWatchRuleGrants is what a ClusterWatchRule makes the operator do, in every namespace.
func ClusterWatchRuleGrants(c *configv1alpha1.ClusterWatchRule, groupsOf GroupsOf) []Permission {
	rules := make([]configv1alpha1.ResourceRule, len(c.Spec.Rules))
	for i := range c.Spec.Rules {
		rules[i] = c.Spec.Rules[i].ResourceRule
	}
	return ruleGrants("", rules, "ClusterWatchRule "+c.Name, groupsOf)
}

func objectRef(verb, resource, namespace, name, because string) Permission {
	return Permission{Verb: verb, Resource: resource, Namespace: namespace, Name: name, Because: because}
}

// GitTargetRefs is what a GitTarget's own references make the operator read or write.
func GitTargetRefs(t *configv1alpha1.GitTarget) []Permission {
	var out []Permission
	if k := t.Spec.KubeConfig; k != nil {
		// Whoever names a kubeconfig borrows its credentials: only one who may read them.
		out = append(out, objectRef("get", "secrets", t.Namespace, k.SecretRef.Name, "spec.kubeConfig.secretRef of GitTarget "+t.Namespace+"/"+t.Name))
	}
	e := t.Spec.Encryption
	if e == nil || e.SecretRef == nil {
		return out
	}
	because := "spec.encryption.secretRef of GitTarget " + t.Namespace + "/" + t.Name
	out = append(out, objectRef("get", "secrets", t.Namespace, e.SecretRef.Name, because))
	if e.Age != nil && e.Age.Recipients.GenerateWhenMissing {
		// A Secret that does not exist yet has no name to authorize against but its own.
		out = append(out,
			objectRef("update", "secrets", t.Namespace, e.SecretRef.Name, because),
			Permission{Verb: "create", Resource: "secrets", Namespace: t.Namespace, Because: because})
	}
	return out
}

// GitTargetRedirects reports whether an update changes where the target's data goes or comes from.
func GitTargetRedirects(old, updated *configv1alpha1.GitTarget) bool {
	o, n := old.Spec, updated.Spec
	return o.ProviderRef != n.ProviderRef || o.Branch != n.Branch || o.Path != n.Path ||
		!reflect.DeepEqual(o.Encryption, n.Encryption) || !reflect.DeepEqual(o.KubeConfig, n.KubeConfig)
}

// GitProviderRefs is what a GitProvider's own references make the operator read.
func GitProviderRefs(p *configv1alpha1.GitProvider) []Permission {
	owner := " of GitProvider " + p.Namespace + "/" + p.Name
	var out []Permission
	secret := func(name, field string) {
		out = append(out, objectRef("get", "secrets", p.Namespace, name, field+owner))
	}
	s := p.Spec
	if s.SecretRef != nil {
		secret(s.SecretRef.Name, "spec.secretRef")
	}
	if s.KnownHosts != nil && s.KnownHosts.SecretRef != nil {
		secret(s.KnownHosts.SecretRef.Name, "spec.knownHosts.secretRef")
	}
	if s.KnownHosts != nil && s.KnownHosts.ConfigMapRef != nil {
		out = append(out, objectRef("get", "configmaps", p.Namespace, s.KnownHosts.ConfigMapRef.Name, "spec.knownHosts.configMapRef"+owner))
	}
	if s.Signing != nil {
		secret(s.Signing.SecretRef.Name, "spec.signing.secretRef")
	}
	if s.Webhook != nil {
		secret(s.Webhook.SecretRef.Name, "spec.webhook.secretRef")
	}
	return out
}

// GitProviderRedirects reports whether an update points the provider at another repository.
func GitProviderRedirects(old, updated *configv1alpha1.GitProvider) bool {
	return old.Spec.URL != updated.Spec.URL
}

// dedupe keeps the first of each permission, in order.
func dedupe(ps []Permission) []Permission {
	seen := map[Permission]bool{}
	out := ps[:0:0]
	for _, p := range ps {
		if k := p.key(); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}
