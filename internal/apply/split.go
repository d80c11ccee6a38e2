package apply

import (
	"context"
	"fmt"

	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitops-reverser/gitops-reverser/internal/fields"
)

// applySplit applies the fields of an object that go Git → cluster, and never changes one that
// goes the other way or that no rule claims. fluxcd/pkg/ssa's DriftIgnoreRules would do the same
// by JSON pointer, but with list indices, which differ between Git's copy and the cluster's once
// a list is reordered; the payload here is built by merge key instead (internal/fields).
func applySplit(ctx context.Context, rm *ssa.ResourceManager, s Selected, opts ssa.ApplyOptions) outcome {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(s.Object.GroupVersionKind())
	err := rm.Client().Get(ctx, client.ObjectKeyFromObject(s.Object), live)
	switch {
	case apierrors.IsNotFound(err) && !s.Whole():
		// Only some fields are the apply side's, so the object is someone else's to create.
		return outcome{sel: s, action: ssa.SkippedAction, recheck: true}
	case apierrors.IsNotFound(err):
		// Created from Git whole: the fields of the other direction need a first value, and
		// Git's is the only one there is.
		entry, err := rm.Apply(ctx, s.Object.DeepCopy(), opts)
		if err != nil {
			return outcome{sel: s, err: explain(err, s)}
		}
		return outcome{sel: s, action: entry.Action}
	case err != nil:
		return outcome{sel: s, err: explain(fmt.Errorf("reading %s: %w", s.ID.Describe(), err), s)}
	}
	payload, err := splitPayload(s, live)
	if err != nil {
		return outcome{sel: s, err: err}
	}
	entry, err := rm.Apply(ctx, payload, opts)
	if err != nil {
		return outcome{sel: s, err: explain(err, s)}
	}
	return outcome{sel: s, action: entry.Action}
}

// splitPayload is what an apply of a split object sends: its identity, Git's value of every field
// claimed for the cluster, and the cluster's own value of every other field that we alone own
// (a field an apply stops sending is deleted when nobody else owns it; where another manager owns
// it too, leaving it out only gives up our share).
func splitPayload(s Selected, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	own, w := s.Split.Ownership, s.Split.Walker
	ours, err := fields.ManagedBy(live.GetManagedFields(), FieldManager, metav1.ManagedFieldsOperationApply)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.ID.Describe(), err)
	}
	others, err := fields.ManagedByOthers(live.GetManagedFields(), FieldManager)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.ID.Describe(), err)
	}
	payload := &unstructured.Unstructured{Object: map[string]any{}}
	payload.SetAPIVersion(s.Object.GetAPIVersion())
	payload.SetKind(s.Object.GetKind())
	payload.SetName(s.Object.GetName())
	if ns := s.Object.GetNamespace(); ns != "" {
		payload.SetNamespace(ns)
	}
	for _, l := range own.Pick(w, s.Object.Object, fields.ToKubernetes) {
		if err := fields.Set(payload.Object, l.Path, fields.DeepCopyValue(l.Value)); err != nil {
			return nil, fmt.Errorf("%s: field %s of %s: %w", s.ID.Describe(), l.Path, s.Where(), err)
		}
	}
	for _, l := range w.Leaves(live.Object) {
		if own.Of(l.Path) == fields.ToKubernetes || !ours.Owns(l.Path) || others.Owns(l.Path) {
			continue
		}
		if err := fields.Set(payload.Object, l.Path, fields.DeepCopyValue(l.Value)); err != nil {
			return nil, fmt.Errorf("%s: field %s of the cluster's copy: %w", s.ID.Describe(), l.Path, err)
		}
	}
	return payload, nil
}

// holds reports whether live still has Git's value of every field the apply side owns.
func (s Selected) holds(live map[string]any) bool {
	if s.Split == nil {
		return covers(s.Object.Object, live)
	}
	for _, l := range s.Split.Ownership.Pick(s.Split.Walker, s.Object.Object, fields.ToKubernetes) {
		if v, ok := fields.Get(live, l.Path); !ok || !fields.Same(l.Value, v) {
			return false
		}
	}
	return true
}
