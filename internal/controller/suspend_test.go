package controller

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

func TestASuspensionIsToldOnceNotAgainAfterARestart(t *testing.T) {
	g := NewWithT(t)
	suspended := func(generation, observed int64) *configv1alpha1.GitTarget {
		return &configv1alpha1.GitTarget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "t", Generation: generation},
			Spec:       configv1alpha1.GitTargetSpec{Suspend: true},
			Status:     configv1alpha1.GitTargetStatus{ObservedGeneration: observed},
		}
	}
	rec := events.NewFakeRecorder(10)
	r := &GitTargetReconciler{Recorder: rec}
	g.Expect(r.noteSuspension(t.Context(), suspended(2, 1))).To(BeTrue())
	g.Expect(rec.Events).To(Receive(ContainSubstring("Suspended")))
	g.Expect(r.noteSuspension(t.Context(), suspended(2, 2))).To(BeTrue())
	g.Expect(rec.Events).NotTo(Receive(), "still suspended")

	// A new operator (a restart) finds the target as the last run left it.
	restarted := &GitTargetReconciler{Recorder: rec}
	g.Expect(restarted.noteSuspension(t.Context(), suspended(2, 2))).To(BeTrue())
	g.Expect(rec.Events).NotTo(Receive(), "a restart is no suspension")
	resumed := suspended(3, 2)
	resumed.Spec.Suspend = false
	g.Expect(restarted.noteSuspension(t.Context(), resumed)).To(BeFalse())
	g.Expect(rec.Events).To(Receive(ContainSubstring("Resumed")))
}
