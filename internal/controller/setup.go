package controller

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// SetupAll registers every reconciler of the operator with the manager.
func SetupAll(mgr ctrl.Manager) error {
	provider := &GitProviderReconciler{
		Client:   mgr.GetClient(),
		Reader:   mgr.GetAPIReader(),
		Recorder: mgr.GetEventRecorder("gitops-reverser"),
	}
	if err := provider.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the GitProvider controller: %w", err)
	}
	target := &GitTargetReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("gitops-reverser")}
	if err := target.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the GitTarget controller: %w", err)
	}
	return nil
}
