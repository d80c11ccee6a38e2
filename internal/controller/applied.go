package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// reportApplied copies what the Git → cluster direction did into the GitTarget's status: the
// revision, the inventory and the Applied condition, with an Event when the condition changes and
// one for each pruned object.
func (r *GitTargetReconciler) reportApplied(ctx context.Context, applier ApplyRunner, target *configv1alpha1.GitTarget) {
	if applier == nil {
		return
	}
	key := types.NamespacedName{Namespace: target.Namespace, Name: target.Name}
	status, running := applier.Status(key)
	if !running {
		meta.RemoveStatusCondition(&target.Status.Conditions, configv1alpha1.AppliedCondition)
		return
	}
	if !status.Done {
		return
	}
	target.Status.LastAppliedRevision = status.Revision
	target.Status.Inventory = &configv1alpha1.ResourceInventory{Entries: status.Inventory}
	cond := metav1.Condition{
		Type: configv1alpha1.AppliedCondition, Status: metav1.ConditionTrue, Reason: status.Reason,
		Message: status.Message, ObservedGeneration: target.Generation,
	}
	if status.Reason != configv1alpha1.ReasonApplied {
		cond.Status = metav1.ConditionFalse
	}
	before := meta.FindStatusCondition(target.Status.Conditions, configv1alpha1.AppliedCondition)
	changed := before == nil || before.Status != cond.Status || before.Reason != cond.Reason
	meta.SetStatusCondition(&target.Status.Conditions, cond)
	if r.Recorder == nil {
		return
	}
	if changed {
		kind := corev1.EventTypeNormal
		if cond.Status == metav1.ConditionFalse {
			kind = corev1.EventTypeWarning
			ctrl.LoggerFrom(ctx).Info("Git → cluster has problems", "reason", cond.Reason, "message", cond.Message)
		}
		r.Recorder.Eventf(target, nil, kind, cond.Reason, "Apply", "%s", eventNote(cond.Message))
	}
	for _, name := range applier.TakePruned(key) {
		r.Recorder.Eventf(target, nil, corev1.EventTypeNormal, "Pruned", "Prune", "deleted %s: its manifest was removed from Git", name)
	}
}
