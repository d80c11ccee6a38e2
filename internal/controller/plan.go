package controller

import (
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/apply"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/route"
	"github.com/gitops-reverser/gitops-reverser/internal/rules"
)

// ruleInput is one rule of a WatchRule or ClusterWatchRule with where it applies.
type ruleInput struct {
	origin    string // `WatchRule default/apps rules[0]`
	rule      configv1alpha1.ResourceRule
	scope     rules.Scope
	route     route.Scope
	namespace string // the watch's namespace; empty for all namespaces
	account   string // the ServiceAccount (namespace/name) its objects are applied as
}

// rulesOf collects the rules of target in the order that decides an object's direction (the
// first rule that selects it wins): the WatchRules in its namespace that name it, by name, each
// with its rules as listed; then the ClusterWatchRules that name it, by name.
// A rule without a ServiceAccount applies as defaultAccount (of the same namespace) when set,
// else as the operator.
func rulesOf(ctx context.Context, c client.Reader, target *configv1alpha1.GitTarget, defaultAccount string) ([]ruleInput, error) {
	var out []ruleInput
	watchRules := &configv1alpha1.WatchRuleList{}
	if err := c.List(ctx, watchRules, client.InNamespace(target.Namespace)); err != nil {
		return nil, fmt.Errorf("listing WatchRules: %w", err)
	}
	sort.Slice(watchRules.Items, func(i, j int) bool { return watchRules.Items[i].Name < watchRules.Items[j].Name })
	for _, w := range watchRules.Items {
		if w.Spec.TargetRef.Name != target.Name || !w.DeletionTimestamp.IsZero() {
			continue
		}
		for i, r := range w.Spec.Rules {
			origin := fmt.Sprintf("WatchRule %s/%s rules[%d]", w.Namespace, w.Name, i)
			out = append(out, ruleInput{origin: origin, rule: r, scope: rules.NamespacedOnly, route: route.Scope{Namespace: w.Namespace},
				namespace: w.Namespace, account: account(w.Namespace, w.Spec.ServiceAccountName, defaultAccount)})
		}
	}
	clusterRules := &configv1alpha1.ClusterWatchRuleList{}
	if err := c.List(ctx, clusterRules); err != nil {
		return nil, fmt.Errorf("listing ClusterWatchRules: %w", err)
	}
	sort.Slice(clusterRules.Items, func(i, j int) bool { return clusterRules.Items[i].Name < clusterRules.Items[j].Name })
	for _, w := range clusterRules.Items {
		ref := w.Spec.TargetRef
		if ref.Namespace != target.Namespace || ref.Name != target.Name || !w.DeletionTimestamp.IsZero() {
			continue
		}
		for i, r := range w.Spec.Rules {
			origin := fmt.Sprintf("ClusterWatchRule %s rules[%d]", w.Name, i)
			out = append(out, ruleInput{origin: origin, rule: r.ResourceRule, scope: rules.ScopeOf(r.Scope), route: route.Scope{NamespaceSelector: r.NamespaceSelector},
				account: account(target.Namespace, w.Spec.ServiceAccountName, defaultAccount)})
		}
	}
	return out, nil
}

// account is the `namespace/name` a rule applies as; empty for the operator itself.
func account(namespace, name, defaultName string) string {
	if name == "" {
		name = defaultName
	}
	if name == "" {
		return ""
	}
	return namespace + "/" + name
}

// buildPlan turns a target's rules into the pipeline's plan: one source per resource and
// namespace scope, holding the compiled rules that select its objects. Rules that do not
// compile or resolve are left out here; their own controllers report why.
func buildPlan(target *configv1alpha1.GitTarget, url string, settings gitwriter.Settings, inputs []ruleInput, catalog rules.Catalog) (capture.Plan, apply.Plan) {
	plan := capture.Plan{
		Target:   types.NamespacedName{Namespace: target.Namespace, Name: target.Name},
		Writer:   gitwriter.Key{URL: url, Branch: target.Spec.Branch},
		Settings: settings,
		Folder:   cleanPath(target.Spec.Path),
	}
	type sourceKey struct {
		gr        schema.GroupResource
		namespace string
	}
	index := map[sourceKey]int{}
	interval := time.Minute
	if target.Spec.Interval != nil && target.Spec.Interval.Duration > 0 {
		interval = target.Spec.Interval.Duration
	}
	applied := apply.Plan{Target: plan.Target, Writer: plan.Writer, Settings: settings, Folder: plan.Folder, Interval: interval}
	if target.Status.Inventory != nil {
		applied.Inventory = target.Status.Inventory.Entries
	}
	// Every source of a resource holds every rule of that resource, in order: whichever watch
	// delivers an object, the first rule that selects it decides its direction.
	ordered := map[schema.GroupResource][]*route.Matcher{}
	for _, in := range inputs {
		matcher, err := route.Compile(in.rule, in.route)
		if err != nil {
			continue
		}
		matcher.Origin, matcher.Account = in.origin, in.account
		resolved, _ := rules.Resolve(in.rule, in.scope, catalog)
		for _, res := range resolved {
			gvr := schema.GroupVersionResource{Group: res.Group, Version: res.Version, Resource: res.Resource}
			ns := in.namespace
			if !res.Namespaced {
				ns = ""
			}
			// One version per resource: files are named by group and resource, not version.
			key := sourceKey{gr: gvr.GroupResource(), namespace: ns}
			if _, ok := index[key]; !ok {
				index[key] = len(plan.Sources)
				plan.Sources = append(plan.Sources, capture.Source{Resource: gvr, Namespace: ns})
				applied.Sources = append(applied.Sources, apply.Source{Resource: gvr, Kind: res.Kind, Namespaced: res.Namespaced, Namespace: ns})
			}
			if rs := ordered[key.gr]; len(rs) == 0 || rs[len(rs)-1] != matcher {
				ordered[key.gr] = append(rs, matcher)
			}
		}
	}
	for i := range plan.Sources {
		plan.Sources[i].Rules = ordered[plan.Sources[i].Resource.GroupResource()]
		applied.Sources[i].Rules = plan.Sources[i].Rules
	}
	return plan, applied
}
