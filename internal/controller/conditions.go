package controller

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/oneline"
)

// setReady writes Ready and the kstatus conditions derived from it, and records an Event when
// Ready's status or reason changed. stalled marks failures only a person can fix.
func setReady(rec events.EventRecorder, obj runtime.Object, conditions *[]metav1.Condition, generation int64,
	ready bool, reason, message string, stalled bool) {
	// A copy: SetStatusCondition updates the condition in place.
	var before *metav1.Condition
	if c := meta.FindStatusCondition(*conditions, configv1alpha1.ReadyCondition); c != nil {
		before = c.DeepCopy()
	}
	status := metav1.ConditionFalse
	if ready {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conditions, metav1.Condition{
		Type: configv1alpha1.ReadyCondition, Status: status, Reason: reason, Message: message, ObservedGeneration: generation,
	})
	meta.RemoveStatusCondition(conditions, configv1alpha1.ReconcilingCondition)
	if stalled {
		meta.SetStatusCondition(conditions, metav1.Condition{
			Type: configv1alpha1.StalledCondition, Status: metav1.ConditionTrue, Reason: reason, Message: message, ObservedGeneration: generation,
		})
	} else {
		meta.RemoveStatusCondition(conditions, configv1alpha1.StalledCondition)
	}
	if rec == nil || (before != nil && before.Status == status && before.Reason == reason) {
		return
	}
	eventType := corev1.EventTypeNormal
	if !ready {
		eventType = corev1.EventTypeWarning
	}
	rec.Eventf(obj, nil, eventType, reason, "Reconcile", "%s", eventNote(message))
}

// eventNoteLimit is the API server's limit on an Event's note, in bytes: a longer one is
// refused, and the recorder does not retry, so the Event would be lost.
const eventNoteLimit = 1024

// eventNote is message cut to what an Event holds, on a rune boundary, marked where it was cut.
func eventNote(message string) string {
	const more = "…"
	return oneline.Cut(message, eventNoteLimit-len(more), more)
}

// setReconciling says the object is being worked on and is not ready yet: Ready=Unknown and
// Reconciling=True, both with the reason.
func setReconciling(conditions *[]metav1.Condition, generation int64, reason, message string) {
	for _, t := range []string{configv1alpha1.ReadyCondition, configv1alpha1.ReconcilingCondition} {
		status := metav1.ConditionUnknown
		if t == configv1alpha1.ReconcilingCondition {
			status = metav1.ConditionTrue
		}
		meta.SetStatusCondition(conditions, metav1.Condition{
			Type: t, Status: status, Reason: reason, Message: message, ObservedGeneration: generation,
		})
	}
	meta.RemoveStatusCondition(conditions, configv1alpha1.StalledCondition)
}
