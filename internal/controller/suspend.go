package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
)

// suspendedPlan is what a suspended target would capture, for the attribution webhook's scope:
// the changes made meanwhile need their authors. Only its sources count; without its rules or the
// catalog it has none.
func (r *GitTargetReconciler) suspendedPlan(ctx context.Context, target *configv1alpha1.GitTarget) capture.Plan {
	key := types.NamespacedName{Namespace: target.Namespace, Name: target.Name}
	inputs, err := rulesOf(ctx, r.Client, target, r.DefaultServiceAccount)
	if err != nil {
		return capture.Plan{Target: key}
	}
	catalog, err := r.Catalogs.Catalog(ctx)
	if err != nil {
		return capture.Plan{Target: key}
	}
	plan, _ := buildPlan(target, "", gitwriter.Settings{}, inputs, catalog)
	return plan
}

// noteSuspension reports whether target is suspended, and tells (a log line and an Event) when it
// was just suspended or resumed. Conditions are left as they were, as Flux does: a deliberate
// pause during an incident must not page anyone that the target is not Ready; the Suspended
// column says it.
func (r *GitTargetReconciler) noteSuspension(ctx context.Context, target *configv1alpha1.GitTarget) bool {
	key := types.NamespacedName{Namespace: target.Namespace, Name: target.Name}
	r.mu.Lock()
	if r.suspended == nil {
		r.suspended = map[types.NamespacedName]bool{}
	}
	was, seen := r.suspended[key]
	if !seen && target.Status.ObservedGeneration == target.Generation {
		// First seen since this operator started, with a spec an earlier run already acted on:
		// no transition to tell of (an operator restart is not a suspension).
		was = target.Spec.Suspend
	}
	r.suspended[key] = target.Spec.Suspend
	r.mu.Unlock()
	log := ctrl.LoggerFrom(ctx)
	switch {
	case target.Spec.Suspend && !was:
		log.Info("GitTarget suspended: nothing is committed, pushed or applied for it until spec.suspend is false")
		if r.Recorder != nil {
			r.Recorder.Eventf(target, nil, corev1.EventTypeNormal, configv1alpha1.ReasonSuspended, "Suspend",
				"suspended: nothing is committed, pushed or applied until spec.suspend is false")
		}
	case !target.Spec.Suspend && was:
		log.Info("GitTarget resumed: catching up from the branch's cursor")
		if r.Recorder != nil {
			r.Recorder.Eventf(target, nil, corev1.EventTypeNormal, configv1alpha1.ReasonResumed, "Resume",
				"resumed: catching up with what changed while suspended")
		}
	}
	return target.Spec.Suspend
}
