package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/apply"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/webhookscope"
)

// Options configure the operator's controllers. The zero values of the optional fields work.
type Options struct {
	// WorkDir holds the Git writers' local repositories.
	WorkDir string
	// Attribution says who made each change; nil commits every change as unattributed.
	Attribution capture.Attributor
	// AttributionWait, Cluster and Resync: see capture.Options.
	AttributionWait time.Duration
	Cluster         string
	Resync          time.Duration
	// Sensitive says which resources are only written encrypted (default: Secrets).
	Sensitive func(schema.GroupResource) bool
	// ProviderRetryInterval and ProviderCheckTimeout: see GitProviderReconciler.
	ProviderRetryInterval, ProviderCheckTimeout time.Duration
	// DefaultServiceAccount: see GitTargetReconciler.
	DefaultServiceAccount string
	// ApplyConcurrency is how many objects are applied at once (default 16).
	ApplyConcurrency int
	// AttributionWebhook is the ValidatingWebhookConfiguration of the attribution webhook, whose
	// rules the operator keeps to the captured resources (internal/webhookscope); empty leaves
	// it alone. AdmissionAttribution says the webhook is used: without it, its rules are kept
	// empty.
	AttributionWebhook   string
	AdmissionAttribution bool
}

// Operator is what SetupAll built.
type Operator struct {
	Writers *gitwriter.Registry
	// Pipeline and Applier are the directions of the operator's own cluster.
	Pipeline *capture.Pipeline
	Applier  *apply.Applier
	// Remote runs the directions of the clusters GitTargets' kubeconfigs name.
	Remote *RemoteClusters
}

// RequestBranch asks every target on a repository's branch, in any cluster, to fetch and apply
// at once (a push webhook arrived); it returns how many were asked.
func (o *Operator) RequestBranch(url, branch string) int {
	return o.Applier.RequestBranch(url, branch) + o.Remote.RequestBranch(url, branch)
}

// SetupAll registers every reconciler of the operator, the registry of Git writers and the
// pipeline with the manager.
func SetupAll(mgr ctrl.Manager, opts Options) (*Operator, error) {
	writerEvents := make(chan event.GenericEvent, 64)
	targetEvents := make(chan event.GenericEvent, 256)
	op, err := newDirections(mgr, opts,
		func(key gitwriter.Key) {
			// Never block a Writer: find the providers of this repository elsewhere.
			go notifyProviders(mgr, key.URL, writerEvents)
		},
		func(key types.NamespacedName) {
			target := &configv1alpha1.GitTarget{}
			target.Namespace, target.Name = key.Namespace, key.Name
			targetEvents <- event.GenericEvent{Object: target}
		})
	if err != nil {
		return nil, err
	}
	registry, pipe, applier := op.Writers, op.Pipeline, op.Applier
	provider := &GitProviderReconciler{
		Client:        mgr.GetClient(),
		Reader:        mgr.GetAPIReader(),
		Recorder:      mgr.GetEventRecorder("gitops-reverser"),
		Writers:       registry,
		WriterEvents:  writerEvents,
		RetryInterval: opts.ProviderRetryInterval,
		CheckTimeout:  opts.ProviderCheckTimeout,
	}
	if err := provider.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the GitProvider controller: %w", err)
	}
	catalogs, err := NewCatalogSource(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	target := &GitTargetReconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("gitops-reverser"),
		Pipeline: pipe, Catalogs: catalogs, Writers: registry, PipelineEvents: targetEvents,
		Applier: applier, DefaultServiceAccount: opts.DefaultServiceAccount,
		Remote: op.Remote,
	}
	if err := target.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the GitTarget controller: %w", err)
	}
	commitRequests := &CommitRequestReconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("gitops-reverser"),
		Saver: op.Remote, Attribution: opts.Attribution,
	}
	if err := commitRequests.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the CommitRequest controller: %w", err)
	}
	resolver := ruleResolver{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("gitops-reverser"), Catalogs: catalogs, Remote: op.Remote}
	if err := SetupRuleControllers(mgr, resolver); err != nil {
		return nil, err
	}
	return op, nil
}

// newDirections adds both directions of the operator's own cluster to the manager, with the
// registry of Git writers every cluster shares, and the remote clusters GitTargets' kubeconfigs
// name (RemoteClusters), which run the same directions against their own API servers.
// writerChanged hears of every writer's status change; targetChanged, called on a goroutine of its
// own, of a target's.
func newDirections(mgr ctrl.Manager, opts Options, writerChanged func(gitwriter.Key), targetChanged func(types.NamespacedName)) (*Operator, error) {
	gitMetrics, err := gitwriter.NewMetrics(metrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering Git metrics: %w", err)
	}
	registry := &gitwriter.Registry{
		BaseDir:  opts.WorkDir,
		Metrics:  gitMetrics,
		Log:      ctrl.Log.WithName("gitwriter"),
		OnStatus: func(key gitwriter.Key, _ gitwriter.Status) { writerChanged(key) },
	}
	if err := mgr.Add(registry); err != nil {
		return nil, fmt.Errorf("adding the Git writer registry: %w", err)
	}
	sh, err := newShared(mgr, opts, registry, targetChanged)
	if err != nil {
		return nil, err
	}
	var pipe *capture.Pipeline // set below; the scope asks only once the manager started
	sourcesChanged := func() {}
	if opts.AttributionWebhook != "" {
		scope := webhookscope.New(webhookscope.Options{
			Reader: mgr.GetAPIReader(), Writer: mgr.GetClient(), Configuration: opts.AttributionWebhook,
			Resources: func() []schema.GroupResource {
				if !opts.AdmissionAttribution {
					return nil
				}
				// CommitRequests too: their commit's author is whoever created them.
				return append(pipe.Captured(), schema.GroupResource{Group: configv1alpha1.GroupVersion.Group, Resource: "commitrequests"})
			},
			Log: ctrl.Log.WithName("webhookscope"),
		})
		if err := mgr.Add(scope); err != nil {
			return nil, fmt.Errorf("adding the attribution webhook's scope: %w", err)
		}
		sourcesChanged = scope.Changed
	}
	local, err := sh.newDirections(clusterAccess{
		config: mgr.GetConfig(), mapper: mgr.GetRESTMapper(), name: opts.Cluster,
		attribution: opts.Attribution, attributionWait: opts.AttributionWait, sourcesChanged: sourcesChanged,
		namespaceLabels: func(ctx context.Context, name string) map[string]string {
			ns := &corev1.Namespace{}
			if err := mgr.GetClient().Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
				return nil
			}
			return ns.Labels
		},
	})
	if err != nil {
		return nil, err
	}
	pipe = local.pipeline
	if err := mgr.Add(local.pipeline); err != nil {
		return nil, fmt.Errorf("adding the pipeline: %w", err)
	}
	if err := mgr.Add(local.applier); err != nil {
		return nil, fmt.Errorf("adding the applier: %w", err)
	}
	remote := newRemoteClusters(sh, local, ctrl.Log.WithName("clusters"))
	if err := mgr.Add(remote); err != nil {
		return nil, fmt.Errorf("adding the remote clusters: %w", err)
	}
	return &Operator{Writers: registry, Pipeline: local.pipeline, Applier: local.applier, Remote: remote}, nil
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
