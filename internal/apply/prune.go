package apply

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitops-reverser/gitops-reverser/internal/route"
)

// pruneDecision is what becomes of an inventory entry whose manifest left Git.
type pruneDecision int

const (
	// pruneDelete: delete it.
	pruneDelete pruneDecision = iota
	// pruneRelease: forget it and leave it in the cluster.
	pruneRelease
	// pruneGone: it is not in the cluster any more.
	pruneGone
)

// decidePrune is the policy for one object whose manifest is gone: delete it only when we applied
// it (our field manager's Apply entry is on it), a rule still selects it for this direction, and
// it does not opt out; otherwise release it.
func decidePrune(live *unstructured.Unstructured, rules []*route.Matcher, resource string, nsLabels map[string]string) (pruneDecision, string) {
	if live == nil {
		return pruneGone, "already gone"
	}
	if live.GetAnnotations()[PruneAnnotation] == "disabled" {
		return pruneRelease, PruneAnnotation + ": disabled"
	}
	if !appliedByUs(live) {
		return pruneRelease, "not applied by " + FieldManager
	}
	if rule, _, whole := route.ApplyingRule(rules, resource, live, nsLabels); rule == nil || !whole {
		return pruneRelease, "no rule selects the whole object for syncTo: kubernetes any more"
	}
	return pruneDelete, "removed from Git"
}

func appliedByUs(obj *unstructured.Unstructured) bool {
	for _, f := range obj.GetManagedFields() {
		if f.Manager == FieldManager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// pruned is what prune did with one inventory entry.
type pruned struct {
	id       ObjectID
	decision pruneDecision
	why      string
	err      error
}

// prune decides and carries out what becomes of the entries of gone: objects whose manifest left
// Git. It looks each object up (as the operator: deciding needs to see it), then deletes as the
// account of the rule that selects it. sourceOf finds the rules and resource for a kind.
func prune(ctx context.Context, managers *Managers, gone Inventory, sourceOf func(schema.GroupKind) *Source, nsLabels func(string) map[string]string) []pruned {
	var out []pruned
	reader, err := managers.For("")
	if err != nil {
		for id := range gone {
			out = append(out, pruned{id: id, err: err})
		}
		return out
	}
	for id := range gone {
		gvk := gone.GroupVersionKind(id)
		src := sourceOf(gvk.GroupKind())
		if src == nil {
			out = append(out, pruned{id: id, decision: pruneRelease, why: "no rule selects its kind any more"})
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(gvk)
		err := reader.Client().Get(ctx, client.ObjectKey{Namespace: id.Namespace, Name: id.Name}, live)
		if apierrors.IsNotFound(err) {
			live = nil
		} else if err != nil {
			out = append(out, pruned{id: id, err: fmt.Errorf("reading %s: %w", id.Describe(), err)})
			continue
		}
		var labels map[string]string
		if id.Namespace != "" && nsLabels != nil {
			labels = nsLabels(id.Namespace)
		}
		decision, why := decidePrune(live, src.Rules, src.Resource.Resource, labels)
		p := pruned{id: id, decision: decision, why: why}
		if decision == pruneDelete {
			rule, _, _ := route.ApplyingRule(src.Rules, src.Resource.Resource, live, labels)
			rm, err := managers.For(rule.Account)
			if err == nil {
				err = rm.Client().Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground),
					client.Preconditions{UID: ptr(live.GetUID()), ResourceVersion: ptr(live.GetResourceVersion())})
			}
			if apierrors.IsNotFound(err) {
				err = nil
			}
			if err != nil {
				p.err = fmt.Errorf("deleting %s: %w", id.Describe(), explain(err, Selected{Rule: rule}))
			}
		}
		out = append(out, p)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
