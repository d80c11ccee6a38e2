package controller

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
)

// Options configure the operator's controllers.
type Options struct {
	// WorkDir holds the Git writers' local repositories.
	WorkDir string
}

// SetupAll registers every reconciler of the operator, and the registry of Git writers, with the
// manager, and returns the registry.
func SetupAll(mgr ctrl.Manager, opts Options) (*gitwriter.Registry, error) {
	gitMetrics, err := gitwriter.NewMetrics(metrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering Git metrics: %w", err)
	}
	writerEvents := make(chan event.GenericEvent, 64)
	registry := &gitwriter.Registry{
		BaseDir: opts.WorkDir,
		Metrics: gitMetrics,
		Log:     ctrl.Log.WithName("gitwriter"),
		OnStatus: func(key gitwriter.Key, _ gitwriter.Status) {
			// Never block a Writer: find the providers of this repository elsewhere.
			go notifyProviders(mgr, key.URL, writerEvents)
		},
	}
	if err := mgr.Add(registry); err != nil {
		return nil, fmt.Errorf("adding the Git writer registry: %w", err)
	}
	provider := &GitProviderReconciler{
		Client:       mgr.GetClient(),
		Reader:       mgr.GetAPIReader(),
		Recorder:     mgr.GetEventRecorder("gitops-reverser"),
		Writers:      registry,
		WriterEvents: writerEvents,
	}
	if err := provider.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the GitProvider controller: %w", err)
	}
	target := &GitTargetReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("gitops-reverser")}
	if err := target.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the GitTarget controller: %w", err)
	}
	catalogs, err := NewCatalogSource(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	resolver := ruleResolver{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("gitops-reverser"), Catalogs: catalogs}
	if err := SetupRuleControllers(mgr, resolver); err != nil {
		return nil, err
	}
	return registry, nil
}

// notifyProviders asks for a reconcile of every GitProvider of url.
func notifyProviders(mgr ctrl.Manager, url string, events chan<- event.GenericEvent) {
	list := &configv1alpha1.GitProviderList{}
	if err := mgr.GetClient().List(context.Background(), list); err != nil {
		return
	}
	for i := range list.Items {
		if list.Items[i].Spec.URL == url {
			select {
			case events <- event.GenericEvent{Object: &list.Items[i]}:
			default: // a reconcile is already queued; the periodic recheck follows anyway
			}
		}
	}
}
