package main

import (
	"fmt"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/gitops-reverser/gitops-reverser/internal/escalation"
)

// setupEscalationCheck serves the validating webhook on our own kinds at escalation.Path, on every
// replica: it must answer even where this replica is not the leader, since the API server refuses
// our kinds' writes when nobody answers (failurePolicy Fail).
func setupEscalationCheck(mgr manager.Manager, srv webhook.Server, cfg *rest.Config) error {
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the discovery client of the escalation check: %w", err)
	}
	handler := escalation.NewHandler(mgr.GetScheme(), mgr.GetAPIReader(), disc,
		escalation.NewSubjectAccessReviewer(mgr.GetClient()), ctrl.Log.WithName("escalation"))
	srv.Register(escalation.Path, &webhook.Admission{Handler: handler})
	return nil
}
