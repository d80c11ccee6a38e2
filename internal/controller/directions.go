package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gitops-reverser/gitops-reverser/internal/apply"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
	"github.com/gitops-reverser/gitops-reverser/internal/fields"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

// shared is what the directions of every cluster share: the Git writers (one per branch, whichever
// cluster its targets capture), the metrics, and who hears of a target's status.
type shared struct {
	mgr           ctrl.Manager
	opts          Options
	writers       *gitwriter.Registry
	capture       *capture.Metrics
	apply         *apply.Metrics
	targetChanged func(types.NamespacedName)
}

func newShared(mgr ctrl.Manager, opts Options, writers *gitwriter.Registry, targetChanged func(types.NamespacedName)) (*shared, error) {
	pipelineMetrics, err := capture.NewMetrics(metrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering pipeline metrics: %w", err)
	}
	applyMetrics, err := apply.NewMetrics(metrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering apply metrics: %w", err)
	}
	return &shared{mgr: mgr, opts: opts, writers: writers, capture: pipelineMetrics, apply: applyMetrics, targetChanged: targetChanged}, nil
}

// clusterAccess is the cluster a pair of directions runs against.
type clusterAccess struct {
	config          *rest.Config
	mapper          meta.RESTMapper
	namespaceLabels func(ctx context.Context, name string) map[string]string
	// name is the cluster in authors' addresses; id names a remote cluster in its commits.
	name, id string
	// attribution finds authors in this cluster; nil leaves changes unattributed.
	attribution     capture.Attributor
	attributionWait time.Duration
	// sourcesChanged hears when what the pipeline captures changed. Optional.
	sourcesChanged func()
	// log is the root of the directions' loggers (default ctrl.Log); a remote cluster's names
	// the cluster in every line.
	log logr.Logger
}

// directions are one cluster's two directions, on one set of watches. They are not started.
type directions struct {
	pipeline *capture.Pipeline
	applier  *apply.Applier
}

// newDirections creates the pipeline (cluster → Git) and the applier (Git → cluster) of one
// cluster, on one set of watches.
func (s *shared) newDirections(c clusterAccess) (*directions, error) {
	if c.log.GetSink() == nil {
		c.log = ctrl.Log
	}
	logger := c.log.WithName
	dyn, err := dynamic.NewForConfig(c.config)
	if err != nil {
		return nil, fmt.Errorf("creating a dynamic client: %w", err)
	}
	// Watches keep slim objects: what sanitizing removes anyway, and never reads, is dropped as
	// objects arrive. Both directions share them.
	watches := watch.New(dyn, watch.Options{Log: logger("watch"), Transform: manifest.Slim})
	var applier *apply.Applier // set below; capture's callbacks run only once it started
	pipe := capture.New(capture.Options{
		OnSourcesChanged: c.sourcesChanged,
		OnFieldsWritten:  func(key types.NamespacedName) { applier.Request(key, "fields written to Git") },
		Watches:          watches,
		Writers:          s.writers,
		Attribution:      c.attribution,
		AttributionWait:  c.attributionWait,
		Cluster:          c.name,
		ClusterID:        c.id,
		Resync:           s.opts.Resync,
		Sensitive:        s.opts.Sensitive,
		Keys:             fields.SchemeKeys(s.mgr.GetScheme()),
		Live: func(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
			obj, err := dyn.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return obj, err
		},
		Log:     logger("capture"),
		Metrics: s.capture,
		// Waiting for room in the queue holds nothing up, and no target's status event is dropped.
		OnStatus: s.targetChanged,
	})
	var attributor apply.Attributor
	if c.attribution != nil {
		attributor = c.attribution
	}
	applier = apply.New(apply.Options{
		Writers: s.writers, Watches: watches,
		Managers:        apply.NewManagers(c.config, s.mgr.GetScheme(), c.mapper),
		NamespaceLabels: c.namespaceLabels,
		Resource: func(gk schema.GroupKind) (string, bool, error) {
			m, err := c.mapper.RESTMapping(gk)
			if err != nil {
				return "", false, err
			}
			return m.Resource.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace, nil
		},
		Attribution: attributor, Concurrency: s.opts.ApplyConcurrency, OnStatus: s.targetChanged,
		Log: logger("apply"), Metrics: s.apply,
	})
	return &directions{pipeline: pipe, applier: applier}, nil
}
