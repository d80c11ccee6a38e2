package capture

import (
	"github.com/gitops-reverser/gitops-reverser/internal/fields"

	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

// Attributor says who made a change. *attribution.Index is one.
type Attributor interface {
	Lookup(q attribution.Query) (attribution.User, bool)
	// Updated is closed when something new may be found.
	Updated() <-chan struct{}
	// Settled says whether every fact about a change the watch delivered at seen has arrived,
	// so that waiting longer cannot find its author; when not, askAgain is when the answer may
	// change (zero: not before the change's own deadline).
	Settled(seen time.Time) (settled bool, askAgain time.Time)
}

// Writers hands out the Git writer of a repository and branch. *gitwriter.Registry is one.
type Writers interface {
	Acquire(ctx context.Context, user string, key gitwriter.Key, settings gitwriter.Settings) (*gitwriter.Writer, error)
	Release(user string, key gitwriter.Key)
}

// Options configure a Pipeline. Watches and Writers are required; the zero values of the others
// work.
type Options struct {
	Watches *watch.Watches
	Writers Writers
	// Attribution finds authors; nil commits every change as unattributed.
	Attribution Attributor
	// AttributionWait is how long a change waits for its author before it is committed as
	// unattributed. Admission facts arrive before the change, audit facts up to the API server's
	// batch wait after it. Default 2s.
	AttributionWait time.Duration
	// Cluster names the cluster in authors' made-up addresses. Default "cluster".
	Cluster string
	// ClusterID names a remote cluster in every commit (the Kubernetes-Cluster trailer), so that
	// Git's cursor is only read back against the cluster it was written for; empty for the
	// operator's own cluster.
	ClusterID string
	// Resync is how often every target is reconciled even when nothing seemed to go wrong.
	// Default 10m.
	Resync time.Duration
	// MaxQueued is how many changes a target keeps in order before an object's changes coalesce.
	// Default 10,000.
	MaxQueued int
	// Sensitive reports resources whose objects must never reach Git in plaintext; their changes
	// are held. Default: Secrets.
	Sensitive func(schema.GroupResource) bool
	// OnStatus is called, on a goroutine of its own and at most about once a second per target,
	// when a target's Status changed.
	OnStatus func(types.NamespacedName)
	// OnFieldsWritten is called, off the target's goroutine, when a commit edited the file of an
	// object split between the directions: the applying side should read it, as it does not
	// apply on this side's commits otherwise. Optional.
	OnFieldsWritten func(types.NamespacedName)
	// OnSourcesChanged is called after a target started, stopped or took a new plan: what
	// Captured returns may have changed. It must not block. Optional.
	OnSourcesChanged func()
	// Live reads an object from the API server with its managedFields, for rules with excluded
	// field managers; nil (nil, nil) when it is gone. Without it those rules exclude no field.
	Live func(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error)
	// Keys identify list elements for field-level rules (fields.SchemeKeys); nil keys lists of
	// objects by their name only.
	Keys    fields.ListKeys
	Clock   clock.WithTickerAndDelayedExecution
	Log     logr.Logger
	Metrics *Metrics
}

// Pipeline runs the cluster → Git direction of every GitTarget it is given a Plan for. It is a
// manager.Runnable that runs on the leader only.
type Pipeline struct {
	opts    Options
	ns      *namespaces
	started chan struct{}

	mu      sync.Mutex
	ctx     context.Context
	targets map[types.NamespacedName]*target
	// suspended are the sources of suspended targets, for Captured.
	suspended map[types.NamespacedName][]Source
}

var _ manager.Runnable = (*Pipeline)(nil)
var _ manager.LeaderElectionRunnable = (*Pipeline)(nil)

// New returns a Pipeline; Start runs it.
func New(opts Options) *Pipeline {
	if opts.AttributionWait <= 0 {
		opts.AttributionWait = 2 * time.Second
	}
	if opts.Cluster == "" {
		opts.Cluster = "cluster"
	}
	if opts.Resync <= 0 {
		opts.Resync = 10 * time.Minute
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 10_000
	}
	if opts.Sensitive == nil {
		opts.Sensitive = func(gr schema.GroupResource) bool { return gr == schema.GroupResource{Resource: "secrets"} }
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	p := &Pipeline{opts: opts, targets: map[types.NamespacedName]*target{}, suspended: map[types.NamespacedName][]Source{}, started: make(chan struct{})}
	p.ns = newNamespaces(opts.Watches, p.namespaceLabelsChanged, opts.Log)
	return p
}

// ErrNotStarted says Apply was called before Start or after the Pipeline stopped.
var ErrNotStarted = errors.New("the pipeline is not running")

// Start runs until ctx ends, then stops every target.
func (p *Pipeline) Start(ctx context.Context) error {
	p.mu.Lock()
	p.ctx = ctx
	p.mu.Unlock()
	close(p.started)
	<-ctx.Done()
	p.mu.Lock()
	all := p.targets
	p.targets = map[types.NamespacedName]*target{}
	p.mu.Unlock()
	for _, t := range all {
		t.stop()
	}
	p.ns.stop()
	return nil
}

// Started is closed once Start runs: Apply works from then on.
func (p *Pipeline) Started() <-chan struct{} { return p.started }

// NeedLeaderElection: only the leader writes to Git.
func (p *Pipeline) NeedLeaderElection() bool { return true }

// Apply starts the target of plan, or brings a running one to plan. A target whose repository,
// branch or folder changed is restarted.
func (p *Pipeline) Apply(ctx context.Context, plan Plan) error {
	defer p.sourcesChanged()
	p.mu.Lock()
	delete(p.suspended, plan.Target)
	if p.ctx == nil || p.ctx.Err() != nil {
		p.mu.Unlock()
		return ErrNotStarted
	}
	t, running := p.targets[plan.Target]
	runCtx := p.ctx
	p.mu.Unlock()

	if running && !t.plan().sameWhere(plan) {
		p.Remove(plan.Target)
		running = false
	}
	if running {
		// GitTargets are reconciled often (their status follows every commit): hand the writer
		// its settings only when they changed, since applying them rebuilds its transport.
		if !reflect.DeepEqual(t.plan().Settings, plan.Settings) {
			if _, err := p.opts.Writers.Acquire(ctx, t.user, plan.Writer, plan.Settings); err != nil {
				return fmt.Errorf("updating the Git writer of %s: %w", plan.Target, err)
			}
		}
		return t.update(plan)
	}
	t = newTarget(p, plan)
	writer, err := p.opts.Writers.Acquire(ctx, t.user, plan.Writer, plan.Settings)
	if err != nil {
		return fmt.Errorf("starting the Git writer of %s: %w", plan.Target, err)
	}
	t.writer = writer
	p.mu.Lock()
	if _, raced := p.targets[plan.Target]; raced || p.ctx.Err() != nil {
		p.mu.Unlock()
		// Another Apply won, or we are stopping; ours was never started.
		return nil
	}
	p.targets[plan.Target] = t
	p.mu.Unlock()
	t.start(runCtx)
	return t.update(plan)
}

// sourcesChanged tells OnSourcesChanged; deferred by Apply and Remove.
func (p *Pipeline) sourcesChanged() {
	if p.opts.OnSourcesChanged != nil {
		p.opts.OnSourcesChanged()
	}
}

// Captured lists the resources some running (or suspended) target writes to Git, whole or field
// by field: those with a rule other than one that applies whole objects from Git. What only such
// rules select is watched too, but never written, and needs no author.
func (p *Pipeline) Captured() []schema.GroupResource {
	p.mu.Lock()
	targets := make([]*target, 0, len(p.targets))
	for _, t := range p.targets {
		targets = append(targets, t)
	}
	sources := make([][]Source, 0, len(p.suspended)+len(targets))
	for _, s := range p.suspended {
		sources = append(sources, s)
	}
	p.mu.Unlock()
	for _, t := range targets {
		sources = append(sources, t.plan().Sources)
	}
	seen := map[schema.GroupResource]bool{}
	var out []schema.GroupResource
	for _, list := range sources {
		for _, src := range list {
			gr := src.Resource.GroupResource()
			if seen[gr] {
				continue
			}
			for _, r := range src.Rules {
				// Whole objects or single fields may be written to Git by any rule but one that
				// applies whole objects from it.
				if !r.Applies() {
					seen[gr] = true
					out = append(out, gr)
					break
				}
			}
		}
	}
	return out
}

// Remove stops the target; its writer pushes what is pending when nobody else uses it.
func (p *Pipeline) Remove(key types.NamespacedName) {
	p.mu.Lock()
	t, ok := p.targets[key]
	delete(p.targets, key)
	_, held := p.suspended[key]
	delete(p.suspended, key)
	p.mu.Unlock()
	if ok {
		t.stop()
	}
	if ok || held {
		p.sourcesChanged()
	}
}

// Suspend stops the target of plan as Remove does, and keeps plan's sources among the Captured
// ones: the changes made while it is suspended need their authors when it resumes, which the
// attribution webhook only tells of resources in its scope.
func (p *Pipeline) Suspend(plan Plan) {
	p.mu.Lock()
	t, ok := p.targets[plan.Target]
	delete(p.targets, plan.Target)
	p.suspended[plan.Target] = plan.Sources
	p.mu.Unlock()
	if ok {
		t.stop()
	}
	p.sourcesChanged()
}

// Status returns what a running target reports; false when it is not running.
func (p *Pipeline) Status(key types.NamespacedName) (Status, bool) {
	p.mu.Lock()
	t, ok := p.targets[key]
	p.mu.Unlock()
	if !ok {
		return Status{}, false
	}
	return t.currentStatus(), true
}

func (p *Pipeline) namespaceLabelsChanged() {
	p.mu.Lock()
	all := make([]*target, 0, len(p.targets))
	for _, t := range p.targets {
		all = append(all, t)
	}
	p.mu.Unlock()
	for _, t := range all {
		if t.usesNamespaceLabels() {
			t.requestReconcile("namespace labels changed")
		}
	}
}
