package controller

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
	"github.com/gitops-reverser/gitops-reverser/internal/fields"
)

// setFiltersValid checks the filters of a rule list: each against the schema of every resource
// its rule resolved to, and the rules of each resource against each other (in order). Without
// filters the condition is absent. Problems do not stop the rules: the earlier rule wins where
// filters overlap, and a filter that matches nothing claims nothing.
func setFiltersValid(conditions *[]metav1.Condition, generation int64, scheme *runtime.Scheme,
	ruleList []configv1alpha1.ResourceRule, resolved [][]configv1alpha1.ResolvedResource) {
	any := false
	var bad, overlaps []string
	byResource := map[schema.GroupResource][]fields.Rule{}
	var order []schema.GroupResource
	for i, rule := range ruleList {
		origin := fmt.Sprintf("rule %d", i+1)
		var ps []fields.Pointer
		for _, f := range rule.Filters {
			any = true
			p, err := fields.ParsePointer(f)
			if err != nil {
				bad = append(bad, origin+": "+err.Error())
				continue
			}
			ps = append(ps, p)
			for _, res := range resolved[i] {
				gvk := schema.GroupVersionKind{Group: res.Group, Version: res.Version, Kind: res.Kind}
				if err := fields.CheckPointer(scheme, gvk, p); err != nil {
					bad = append(bad, fmt.Sprintf("%s: %s: %v", origin, res.Resource, err))
				}
			}
		}
		dir := fields.Direction(rule.SyncTo)
		if dir == "" {
			dir = fields.ToGit
		}
		for _, res := range resolved[i] {
			gr := schema.GroupResource{Group: res.Group, Resource: res.Resource}
			if _, ok := byResource[gr]; !ok {
				order = append(order, gr)
			}
			byResource[gr] = append(byResource[gr], fields.Rule{Direction: dir, Filters: ps, Origin: origin})
		}
	}
	if !any {
		meta.RemoveStatusCondition(conditions, configv1alpha1.FiltersValidCondition)
		return
	}
	for _, gr := range order {
		for _, o := range fields.Shadowed(byResource[gr]) {
			overlaps = append(overlaps, gr.String()+": "+o)
		}
	}
	c := metav1.Condition{Type: configv1alpha1.FiltersValidCondition, Status: metav1.ConditionTrue,
		Reason: configv1alpha1.ReasonFiltersValid, Message: "every filter can match a field", ObservedGeneration: generation}
	switch {
	case len(bad) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, configv1alpha1.ReasonFilterMatchesNothing, strings.Join(bad, "; ")
	case len(overlaps) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, configv1alpha1.ReasonFiltersOverlap, strings.Join(overlaps, "; ")
	}
	meta.SetStatusCondition(conditions, c)
}

// setTargetFilters reports, on a GitTarget, filters of different rule objects (WatchRules,
// ClusterWatchRules) that overlap with opposite directions for one resource: the order across
// objects decides (WatchRules by name, then ClusterWatchRules), and the condition says where that
// order settled a conflict, so that nobody has to guess. Overlaps within one object are reported
// on that object.
func setTargetFilters(conditions *[]metav1.Condition, generation int64, sources []capture.Source) {
	any := false
	var overlaps []string
	for _, src := range sources {
		var rs []fields.Rule
		for _, m := range src.Rules {
			any = any || len(m.Pointers) > 0
			rs = append(rs, fields.Rule{Direction: fields.Direction(m.SyncTo), Filters: m.Pointers, Origin: m.Origin})
		}
		for _, o := range fields.ShadowedAcross(rs, ruleObject) {
			overlaps = append(overlaps, src.Resource.GroupResource().String()+": "+o)
		}
	}
	if !any {
		meta.RemoveStatusCondition(conditions, configv1alpha1.FiltersValidCondition)
		return
	}
	c := metav1.Condition{Type: configv1alpha1.FiltersValidCondition, Status: metav1.ConditionTrue,
		Reason: configv1alpha1.ReasonFiltersValid, Message: "no filters of different rule objects overlap", ObservedGeneration: generation}
	if len(overlaps) > 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, configv1alpha1.ReasonFiltersOverlap, strings.Join(overlaps, "; ")
	}
	meta.SetStatusCondition(conditions, c)
}

// ruleObject is the object part of a rule's origin: "WatchRule ns/name" of "WatchRule ns/name rules[1]".
func ruleObject(origin string) string {
	if i := strings.LastIndex(origin, " rules["); i >= 0 {
		return origin[:i]
	}
	return origin
}
