package controller

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/pipeline"
	"github.com/gitops-reverser/gitops-reverser/internal/route"
	"github.com/gitops-reverser/gitops-reverser/internal/rules"
)

// ruleInput is one rule of a WatchRule or ClusterWatchRule with where it applies.
type ruleInput struct {
	rule      configv1alpha1.ResourceRule
	scope     rules.Scope
	route     route.Scope
	namespace string // the watch's namespace; empty for all namespaces
}

// rulesOf collects the rules that write to target: those of the WatchRules in its namespace
// that name it, and of the ClusterWatchRules that name it.
func rulesOf(ctx context.Context, c client.Reader, target *configv1alpha1.GitTarget) ([]ruleInput, error) {
	var out []ruleInput
	watchRules := &configv1alpha1.WatchRuleList{}
	if err := c.List(ctx, watchRules, client.InNamespace(target.Namespace)); err != nil {
		return nil, fmt.Errorf("listing WatchRules: %w", err)
	}
	for _, w := range watchRules.Items {
		if w.Spec.TargetRef.Name != target.Name || !w.DeletionTimestamp.IsZero() {
			continue
		}
		for _, r := range w.Spec.Rules {
			out = append(out, ruleInput{rule: r, scope: rules.NamespacedOnly, route: route.Scope{Namespace: w.Namespace}, namespace: w.Namespace})
		}
	}
	clusterRules := &configv1alpha1.ClusterWatchRuleList{}
	if err := c.List(ctx, clusterRules); err != nil {
		return nil, fmt.Errorf("listing ClusterWatchRules: %w", err)
	}
	for _, w := range clusterRules.Items {
		ref := w.Spec.TargetRef
		if ref.Namespace != target.Namespace || ref.Name != target.Name || !w.DeletionTimestamp.IsZero() {
			continue
		}
		for _, r := range w.Spec.Rules {
			out = append(out, ruleInput{rule: r.ResourceRule, scope: rules.ScopeOf(r.Scope), route: route.Scope{NamespaceSelector: r.NamespaceSelector}})
		}
	}
	return out, nil
}

// buildPlan turns a target's rules into the pipeline's plan: one source per resource and
// namespace scope, holding the compiled rules that select its objects. Rules that do not
// compile or resolve are left out here; their own controllers report why.
func buildPlan(target *configv1alpha1.GitTarget, url string, settings gitwriter.Settings, inputs []ruleInput, catalog rules.Catalog) pipeline.Plan {
	plan := pipeline.Plan{
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
	for _, in := range inputs {
		matcher, err := route.Compile(in.rule, in.route)
		if err != nil {
			continue
		}
		resolved, _ := rules.Resolve(in.rule, in.scope, catalog)
		for _, res := range resolved {
			if res.SyncTo != "" && res.SyncTo != configv1alpha1.SyncToGit {
				continue
			}
			gvr := schema.GroupVersionResource{Group: res.Group, Version: res.Version, Resource: res.Resource}
			ns := in.namespace
			if !res.Namespaced {
				ns = ""
			}
			// One version per resource: files are named by group and resource, not version.
			key := sourceKey{gr: gvr.GroupResource(), namespace: ns}
			i, ok := index[key]
			if !ok {
				i = len(plan.Sources)
				index[key] = i
				plan.Sources = append(plan.Sources, pipeline.Source{Resource: gvr, Namespace: ns})
			}
			plan.Sources[i].Rules = append(plan.Sources[i].Rules, matcher)
		}
	}
	return plan
}
