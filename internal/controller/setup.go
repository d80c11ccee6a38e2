package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/apply"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
	"github.com/gitops-reverser/gitops-reverser/internal/fields"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
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
	Writers  *gitwriter.Registry
	Pipeline *capture.Pipeline
	Applier  *apply.Applier
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
	}
	if err := target.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the GitTarget controller: %w", err)
	}
	commitRequests := &CommitRequestReconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("gitops-reverser"),
		Saver: pipe, Attribution: opts.Attribution,
	}
	if err := commitRequests.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the CommitRequest controller: %w", err)
	}
	resolver := ruleResolver{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("gitops-reverser"), Catalogs: catalogs}
	if err := SetupRuleControllers(mgr, resolver); err != nil {
		return nil, err
	}
	return op, nil
}

// newDirections adds both directions to the manager: the registry of Git writers they share, the
// pipeline (cluster → Git) and the applier (Git → cluster), on one set of watches.
// writerChanged hears of every writer's status change; targetChanged, called on a goroutine of its
// own, of a target's.
func newDirections(mgr ctrl.Manager, opts Options, writerChanged func(gitwriter.Key), targetChanged func(types.NamespacedName)) (*Operator, error) {
	gitMetrics, err := gitwriter.NewMetrics(metrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering Git metrics: %w", err)
	}
	pipelineMetrics, err := capture.NewMetrics(metrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering pipeline metrics: %w", err)
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
	dyn, err := dynamic.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("creating a dynamic client: %w", err)
	}
	// Watches keep slim objects: what sanitizing removes anyway, and never reads, is dropped as
	// objects arrive. Both directions share them.
	watches := watch.New(dyn, watch.Options{Log: ctrl.Log.WithName("watch"), Transform: manifest.Slim})
	var applier *apply.Applier // set below; capture's callbacks run only once the manager started
	var pipe *capture.Pipeline
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
	pipe = capture.New(capture.Options{
		OnSourcesChanged: sourcesChanged,
		OnFieldsWritten:  func(key types.NamespacedName) { applier.Request(key, "fields written to Git") },
		Watches:          watches,
		Writers:          registry,
		Attribution:      opts.Attribution,
		AttributionWait:  opts.AttributionWait,
		Cluster:          opts.Cluster,
		Resync:           opts.Resync,
		Sensitive:        opts.Sensitive,
		Keys:             fields.SchemeKeys(mgr.GetScheme()),
		Live: func(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
			obj, err := dyn.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return obj, err
		},
		Log:     ctrl.Log.WithName("capture"),
		Metrics: pipelineMetrics,
		// Waiting for room in the queue holds nothing up, and no target's status event is dropped.
		OnStatus: targetChanged,
	})
	if err := mgr.Add(pipe); err != nil {
		return nil, fmt.Errorf("adding the pipeline: %w", err)
	}
	applier, err = newApplier(mgr, registry, watches, opts, targetChanged)
	if err != nil {
		return nil, err
	}
	return &Operator{Writers: registry, Pipeline: pipe, Applier: applier}, nil
}

// newApplier creates the Git → cluster direction and adds it to the manager.
func newApplier(mgr ctrl.Manager, writers *gitwriter.Registry, watches *watch.Watches, opts Options, notify func(types.NamespacedName)) (*apply.Applier, error) {
	m, err := apply.NewMetrics(metrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering apply metrics: %w", err)
	}
	var attributor apply.Attributor
	if opts.Attribution != nil {
		attributor = opts.Attribution
	}
	mapper := mgr.GetRESTMapper()
	applier := apply.New(apply.Options{
		Writers: writers, Watches: watches,
		Managers: apply.NewManagers(mgr.GetConfig(), mgr.GetScheme(), mapper),
		NamespaceLabels: func(ctx context.Context, name string) map[string]string {
			ns := &corev1.Namespace{}
			if err := mgr.GetClient().Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
				return nil
			}
			return ns.Labels
		},
		Resource: func(gk schema.GroupKind) (string, bool, error) {
			m, err := mapper.RESTMapping(gk)
			if err != nil {
				return "", false, err
			}
			return m.Resource.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace, nil
		},
		Attribution: attributor, Concurrency: opts.ApplyConcurrency, OnStatus: notify,
		Log: ctrl.Log.WithName("apply"), Metrics: m,
	})
	if err := mgr.Add(applier); err != nil {
		return nil, fmt.Errorf("adding the applier: %w", err)
	}
	return applier, nil
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
