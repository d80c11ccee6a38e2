package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
	"github.com/gitops-reverser/gitops-reverser/internal/controller"
	"github.com/gitops-reverser/gitops-reverser/internal/peers"
)

// setupAttribution registers the receivers --attribution asks for on the webhook server, which
// runs on every replica, and returns the index they fill (nil with --attribution=none). Both
// receivers share the server's port and certificate: the admission webhook at
// attribution.AdmissionPath, the audit webhook at attribution.AuditPath. With leader election,
// every replica also serves what its receivers recorded at attribution.JournalPath, and the
// leader reads that from every other replica.
func setupAttribution(mgr manager.Manager, srv webhook.Server, cfg *rest.Config, opts options) (capture.Attributor, error) {
	if opts.attribution == attributionNone {
		return nil, nil
	}
	m, err := attribution.NewMetrics(metrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering attribution metrics: %w", err)
	}
	index := attribution.NewIndex(attribution.IndexOptions{Metrics: m, LateFacts: opts.audit(), TTL: opts.attributionTTL})
	log := ctrl.Log.WithName("attribution")
	if opts.admission() {
		srv.Register(attribution.AdmissionPath, attribution.NewAdmissionHandler(index, log))
	}
	if opts.audit() {
		srv.Register(attribution.AuditPath, attribution.NewAuditHandler(index, log))
	}
	// Remote clusters (GitTargets with spec.kubeConfig) have only their audit webhooks, each
	// with its own token, whatever the operator's own cluster uses.
	srv.Register(attribution.ClusterAuditPath, attribution.NewClusterAuditHandler(index, controller.AuditTokens(mgr.GetAPIReader()), log.WithName("clusters")))
	if !opts.leaderElect {
		return index, nil
	}
	instance := make([]byte, 8)
	if _, err := rand.Read(instance); err != nil {
		return nil, fmt.Errorf("naming this replica: %w", err)
	}
	name := hex.EncodeToString(instance)
	srv.Register(attribution.JournalPath, attribution.NewJournalHandler(index, name, peers.Authorizer(opts.certDir()), log.WithName("journal")))
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the client that finds the other replicas: %w", err)
	}
	pm, err := peers.NewMetrics(metrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering peer metrics: %w", err)
	}
	puller := peers.NewPuller(peers.Options{
		Client: client, Namespace: opts.namespace, Service: opts.webhookService, PortName: "webhook",
		CertDir: opts.certDir(), Instance: name, Index: index, Metrics: pm, Log: ctrl.Log.WithName("peers"),
	})
	if err := mgr.Add(puller); err != nil {
		return nil, fmt.Errorf("adding the reader of the other replicas' facts: %w", err)
	}
	// A change waits for another replica's fact only until that replica's journal was heard
	// from after the change.
	index.SettleWith(puller.Settled)
	return index, nil
}
