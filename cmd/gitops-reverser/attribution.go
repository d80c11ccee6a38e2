package main

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
)

// setupAttribution registers the receivers --attribution asks for on the webhook server, which
// runs on every replica, and returns the index they fill (nil with --attribution=none). Both
// receivers share the server's port and certificate: the admission webhook at
// attribution.AdmissionPath, the audit webhook at attribution.AuditPath.
func setupAttribution(srv webhook.Server, opts options) (capture.Attributor, error) {
	if opts.attribution == attributionNone {
		return nil, nil
	}
	m, err := attribution.NewMetrics(metrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering attribution metrics: %w", err)
	}
	index := attribution.NewIndex(attribution.IndexOptions{Metrics: m})
	log := ctrl.Log.WithName("attribution")
	if opts.admission() {
		srv.Register(attribution.AdmissionPath, attribution.NewAdmissionHandler(index, log))
	}
	if opts.audit() {
		srv.Register(attribution.AuditPath, attribution.NewAuditHandler(index, log))
	}
	return index, nil
}
