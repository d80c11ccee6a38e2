package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/apply"
	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
)

// RemoteClusters runs the directions of the clusters that GitTargets' kubeconfigs name: per
// kubeconfig Secret one set of watches, a pipeline and an applier against that cluster's API
// server, sharing the operator's Git writers. A cluster starts when the first target names it,
// starts again when its kubeconfig changes (rotated credentials), and stops when its last target
// leaves. It is a manager.Runnable on the leader only.
type RemoteClusters struct {
	shared  *shared
	local   *directions
	log     logr.Logger
	started chan struct{}

	mu       sync.Mutex
	ctx      context.Context
	clusters map[string]*remoteCluster // by kubeconfig Secret, namespace/name
	assigned map[types.NamespacedName]*remoteCluster
}

// remoteCluster is one running remote cluster.
type remoteCluster struct {
	*directions
	config    *remoteConfig
	catalogs  *CatalogSource
	discovery discovery.DiscoveryInterface
	cancel    context.CancelFunc
	targets   map[types.NamespacedName]bool
	// discovered is when catalogs last asked the API server: a remote cluster's CRDs are not
	// watched, so what it serves is asked again after catalogMaxAge.
	discovered time.Time
	// checked is when the API server last took the credentials: a target's reconciles (its
	// status changes, up to once a second) ask again only after checkValid.
	checked time.Time
}

// catalogMaxAge bounds how long a remote cluster's served resources are taken from the cache;
// checkValid how long a successful check of its credentials stands.
const (
	catalogMaxAge = time.Minute
	checkValid    = 10 * time.Second
)

// remoteAttributionWait is the least a remote cluster's change waits for its author: its facts
// come from its audit webhook, a batch wait after the change.
const remoteAttributionWait = 3 * time.Second

var _ manager.Runnable = (*RemoteClusters)(nil)
var _ manager.LeaderElectionRunnable = (*RemoteClusters)(nil)

func newRemoteClusters(sh *shared, local *directions, log logr.Logger) *RemoteClusters {
	return &RemoteClusters{
		shared: sh, local: local, log: log, started: make(chan struct{}),
		clusters: map[string]*remoteCluster{}, assigned: map[types.NamespacedName]*remoteCluster{},
	}
}

// Start runs until ctx ends; every remote cluster's directions stop with it.
func (r *RemoteClusters) Start(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	close(r.started)
	<-ctx.Done()
	return nil
}

// NeedLeaderElection: only the leader captures and applies.
func (r *RemoteClusters) NeedLeaderElection() bool { return true }

// use returns the running cluster of rc for the target key, starting it (or starting it again,
// when its kubeconfig changed) as needed. A target that used another cluster leaves it.
func (r *RemoteClusters) use(ctx context.Context, key types.NamespacedName, rc *remoteConfig) (*remoteCluster, error) {
	select {
	case <-r.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r.mu.Lock()
	if prev := r.assigned[key]; prev != nil && prev.config.id != rc.id {
		r.mu.Unlock()
		r.Release(key)
		r.mu.Lock()
	}
	c := r.clusters[rc.id]
	var replaced *remoteCluster
	if c != nil && c.config.hash != rc.hash {
		replaced, c = c, nil
		delete(r.clusters, rc.id)
		for k := range replaced.targets {
			delete(r.assigned, k)
		}
	}
	var err error
	if c == nil {
		if c, err = r.start(rc); err == nil {
			r.clusters[rc.id] = c
		}
	}
	if err == nil {
		c.targets[key] = true
		r.assigned[key] = c
	}
	r.mu.Unlock()
	if replaced != nil {
		r.log.Info("Kubeconfig changed: the cluster's watches start again", "cluster", rc.id, "server", rc.config.Host)
		r.stop(replaced)
		for k := range replaced.targets {
			if k != key {
				go r.shared.targetChanged(k) // their reconcile moves them to the new one
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// start creates and starts a remote cluster's directions; r.mu is held.
func (r *RemoteClusters) start(rc *remoteConfig) (*remoteCluster, error) {
	// The same rate limits as the operator's own cluster's clients.
	rc.config.QPS, rc.config.Burst = r.shared.mgr.GetConfig().QPS, r.shared.mgr.GetConfig().Burst
	httpClient, err := rest.HTTPClientFor(rc.config)
	if err != nil {
		return nil, fmt.Errorf("creating the HTTP client of %s: %w", rc.config.Host, err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(rc.config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the REST mapper of %s: %w", rc.config.Host, err)
	}
	clientset, err := kubernetes.NewForConfigAndClient(rc.config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating a client of %s: %w", rc.config.Host, err)
	}
	catalogs, err := NewCatalogSource(rc.config)
	if err != nil {
		return nil, err
	}
	var attributor capture.Attributor
	if a := r.shared.opts.Attribution; a != nil {
		attributor = clusterAttributor{index: a, cluster: rc.id}
	}
	d, err := r.shared.newDirections(clusterAccess{
		config: rc.config, mapper: mapper, name: rc.name, id: rc.id,
		attribution: attributor, attributionWait: max(r.shared.opts.AttributionWait, remoteAttributionWait),
		namespaceLabels: func(ctx context.Context, name string) map[string]string {
			ns, err := clientset.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil
			}
			return ns.Labels
		},
		log: r.log.WithValues("cluster", rc.id),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(r.ctx)
	go func() { _ = d.pipeline.Start(ctx) }()
	go func() { _ = d.applier.Start(ctx) }()
	<-d.pipeline.Started()
	<-d.applier.Started()
	r.log.Info("Watching a remote cluster", "cluster", rc.id, "server", rc.config.Host, "name", rc.name)
	return &remoteCluster{
		directions: d, config: rc, catalogs: catalogs, discovery: clientset.Discovery(), cancel: cancel,
		targets: map[types.NamespacedName]bool{}, discovered: time.Now(),
	}, nil
}

// stop stops a cluster's targets, each pushing what it has pending, then its watches.
func (r *RemoteClusters) stop(c *remoteCluster) {
	if c == nil {
		return
	}
	for k := range c.targets {
		c.pipeline.Remove(k)
		c.applier.Remove(k)
	}
	c.cancel()
}

// Release takes the target off its remote cluster, if it runs on one; the cluster stops when no
// target is left on it. Nothing it applied is deleted.
func (r *RemoteClusters) Release(key types.NamespacedName) {
	r.mu.Lock()
	c := r.assigned[key]
	delete(r.assigned, key)
	last := false
	if c != nil {
		delete(c.targets, key)
		if last = len(c.targets) == 0 && r.clusters[c.config.id] == c; last {
			delete(r.clusters, c.config.id)
		}
	}
	r.mu.Unlock()
	if c == nil {
		return
	}
	c.pipeline.Remove(key)
	c.applier.Remove(key)
	if last {
		r.log.Info("No GitTarget uses the remote cluster any more: its watches stop", "cluster", c.config.id)
		c.cancel()
	}
}

// check asks the cluster's API server for its version, with the kubeconfig's credentials, so
// that credentials that expired or were revoked since the cluster started are reported. The
// reasons are ClusterAuthenticationFailed and ClusterUnreachable.
func (r *RemoteClusters) check(ctx context.Context, c *remoteCluster) *stepError {
	r.mu.Lock()
	recent := time.Since(c.checked) < checkValid
	r.mu.Unlock()
	if recent {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := c.discovery.RESTClient().Get().AbsPath("/version").Do(cctx).Error()
	if ctx.Err() != nil {
		return failed(configv1alpha1.ReasonProgressing, "%w", ctx.Err())
	}
	rc := c.config
	switch {
	case err == nil:
	case apierrors.IsUnauthorized(err):
		return failed(configv1alpha1.ReasonClusterAuthenticationFailed,
			"the API server %s refused the credentials of the kubeconfig in %s (HTTP 401): they may have expired or been revoked", rc.config.Host, rc.where)
	case apierrors.IsForbidden(err):
		return failed(configv1alpha1.ReasonClusterAuthenticationFailed,
			"the API server %s forbade the kubeconfig's user in %s to read its version (HTTP 403)", rc.config.Host, rc.where)
	default:
		return failed(configv1alpha1.ReasonClusterUnreachable, "the API server %s of the kubeconfig in %s: %w", rc.config.Host, rc.where, firstLine(err))
	}
	r.mu.Lock()
	c.checked = time.Now()
	stale := time.Since(c.discovered) > catalogMaxAge
	if stale {
		c.discovered = time.Now()
	}
	r.mu.Unlock()
	if stale {
		c.catalogs.Invalidate()
	}
	return nil
}

// catalogsOf returns what the remote cluster of a target serves, when it runs on one.
func (r *RemoteClusters) catalogsOf(key types.NamespacedName) (*CatalogSource, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.assigned[key]; c != nil {
		return c.catalogs, true
	}
	return nil, false
}

// Save commits and pushes what is pending on the target, in whichever cluster it captures.
func (r *RemoteClusters) Save(ctx context.Context, key types.NamespacedName, req capture.SaveRequest) (capture.SaveResult, error) {
	r.mu.Lock()
	c := r.assigned[key]
	r.mu.Unlock()
	if c != nil {
		return c.pipeline.Save(ctx, key, req)
	}
	return r.local.pipeline.Save(ctx, key, req)
}

// RequestBranch asks every remote cluster's targets on a repository's branch to fetch and apply
// at once; it returns how many were asked.
func (r *RemoteClusters) RequestBranch(url, branch string) int {
	r.mu.Lock()
	appliers := make([]*apply.Applier, 0, len(r.clusters))
	for _, c := range r.clusters {
		appliers = append(appliers, c.applier)
	}
	r.mu.Unlock()
	n := 0
	for _, a := range appliers {
		n += a.RequestBranch(url, branch)
	}
	return n
}

// clusterAttributor finds authors among the facts of one remote cluster, which only its audit
// webhook sends (attribution.ClusterAuditPath).
type clusterAttributor struct {
	index   capture.Attributor
	cluster string
}

func (a clusterAttributor) Lookup(q attribution.Query) (attribution.User, bool) {
	q.Cluster = a.cluster
	return a.index.Lookup(q)
}

func (a clusterAttributor) Updated() <-chan struct{} { return a.index.Updated() }

// Settled: audit facts come after the change, so a change waits for its author until found or
// until its deadline.
func (a clusterAttributor) Settled(time.Time) (bool, time.Time) { return false, time.Time{} }
