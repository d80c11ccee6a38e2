package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/fields"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

// Plan is what one GitTarget's Git → cluster direction needs.
type Plan struct {
	Target types.NamespacedName
	// Writer is the branch's shared Git client; Settings come from its GitProvider.
	Writer   gitwriter.Key
	Settings gitwriter.Settings
	// Folder is the target folder, clean and relative to the repository root.
	Folder string
	// Interval is how often the branch is fetched.
	Interval time.Duration
	// Sources are every resource the target's rules resolved to, each with all its rules.
	Sources []Source
	// Keys decrypt SOPS files; nil refuses them.
	Keys *secrets.Keys
	// Inventory is what the GitTarget's status says was applied, read when the target starts.
	Inventory []configv1alpha1.ResourceRef
}

// applies reports whether any rule of the plan applies objects; without one the target needs no
// Git → cluster direction at all.
func (p Plan) applies() bool {
	for _, s := range p.Sources {
		for _, r := range s.Rules {
			if r.AppliesFields() {
				return true
			}
		}
	}
	return false
}

// Writers hands out the Git writer of a repository and branch. *gitwriter.Registry is one.
type Writers interface {
	Acquire(ctx context.Context, user string, key gitwriter.Key, settings gitwriter.Settings) (*gitwriter.Writer, error)
	Release(user string, key gitwriter.Key)
}

// Attributor says who made a change. *attribution.Index is one.
type Attributor interface {
	Lookup(q attribution.Query) (attribution.User, bool)
}

// Options configure an Applier. Writers, Managers and Watches are required.
type Options struct {
	Writers  Writers
	Managers *Managers
	Watches  *watch.Watches
	// NamespaceLabels returns a namespace's labels, for rules with a namespaceSelector.
	NamespaceLabels func(ctx context.Context, ns string) map[string]string
	// Resource maps a kind to its resource and scope, to explain refusals. Optional.
	Resource func(gk schema.GroupKind) (string, bool, error)
	// Attribution names who made a drift, in the log. Optional.
	Attribution Attributor
	// Concurrency is how many objects are applied at once (default 16).
	Concurrency int
	// OnStatus is called on a goroutine of its own when a target's Status changed.
	OnStatus func(types.NamespacedName)
	Log      logr.Logger
	Metrics  *Metrics
}

// Applier runs the Git → cluster direction of every GitTarget with syncTo: kubernetes rules. It
// is a manager.Runnable that runs on the leader only.
type Applier struct {
	opts    Options
	keys    fields.ListKeys
	started chan struct{}

	mu      sync.Mutex
	ctx     context.Context
	targets map[types.NamespacedName]*target
}

var _ manager.Runnable = (*Applier)(nil)
var _ manager.LeaderElectionRunnable = (*Applier)(nil)

// New returns an Applier; Start runs it.
func New(opts Options) *Applier {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	a := &Applier{opts: opts, targets: map[types.NamespacedName]*target{}, started: make(chan struct{})}
	if opts.Managers != nil {
		a.keys = fields.SchemeKeys(opts.Managers.scheme)
	}
	return a
}

// ErrNotStarted says Apply was called before Start or after the Applier stopped.
var ErrNotStarted = errors.New("the applier is not running")

// Start runs until ctx ends, then stops every target.
func (a *Applier) Start(ctx context.Context) error {
	a.mu.Lock()
	a.ctx = ctx
	a.mu.Unlock()
	close(a.started)
	<-ctx.Done()
	a.mu.Lock()
	all := a.targets
	a.targets = map[types.NamespacedName]*target{}
	a.mu.Unlock()
	for _, t := range all {
		t.stop()
	}
	return nil
}

// Started is closed once Start runs: Apply works from then on.
func (a *Applier) Started() <-chan struct{} { return a.started }

// NeedLeaderElection: only the leader applies.
func (a *Applier) NeedLeaderElection() bool { return true }

// Apply starts the target of plan, or hands a running one the new plan (a changed branch or
// folder restarts it). A plan without syncTo: kubernetes rules stops the target.
func (a *Applier) Apply(ctx context.Context, plan Plan) error {
	if !plan.applies() {
		a.Remove(plan.Target)
		return nil
	}
	a.mu.Lock()
	if a.ctx == nil || a.ctx.Err() != nil {
		a.mu.Unlock()
		return ErrNotStarted
	}
	t, running := a.targets[plan.Target]
	runCtx := a.ctx
	a.mu.Unlock()
	if running && (t.plan().Writer != plan.Writer || t.plan().Folder != plan.Folder) {
		a.Remove(plan.Target)
		running = false
	}
	if running {
		return t.update(plan)
	}
	t = newTarget(a, plan)
	writer, err := a.opts.Writers.Acquire(ctx, t.user, plan.Writer, plan.Settings)
	if err != nil {
		return fmt.Errorf("starting the Git writer of %s: %w", plan.Target, err)
	}
	t.writer = writer
	a.mu.Lock()
	if _, raced := a.targets[plan.Target]; raced || a.ctx.Err() != nil {
		a.mu.Unlock()
		a.opts.Writers.Release(t.user, plan.Writer)
		return nil
	}
	a.targets[plan.Target] = t
	a.mu.Unlock()
	if err := t.update(plan); err != nil {
		return err
	}
	t.start(runCtx)
	return nil
}

// Remove stops the target. Nothing it applied is deleted: stopping is not pruning.
func (a *Applier) Remove(key types.NamespacedName) {
	a.mu.Lock()
	t, ok := a.targets[key]
	delete(a.targets, key)
	a.mu.Unlock()
	if ok {
		t.stop()
	}
}

// Status returns what a running target reports; false when it is not running.
func (a *Applier) Status(key types.NamespacedName) (Status, bool) {
	a.mu.Lock()
	t, ok := a.targets[key]
	a.mu.Unlock()
	if !ok {
		return Status{}, false
	}
	return t.currentStatus(), true
}

// Request asks the target to fetch its branch and apply at once.
func (a *Applier) Request(key types.NamespacedName, reason string) {
	a.mu.Lock()
	t, ok := a.targets[key]
	a.mu.Unlock()
	if ok {
		t.request(reason)
	}
}

// RequestBranch asks every target on a repository's branch to fetch and apply at once (a push
// webhook arrived); it returns how many were asked.
func (a *Applier) RequestBranch(url, branch string) int {
	a.mu.Lock()
	var asked []*target
	for _, t := range a.targets {
		if w := t.plan().Writer; w.URL == url && w.Branch == branch {
			asked = append(asked, t)
		}
	}
	a.mu.Unlock()
	for _, t := range asked {
		t.request("push webhook")
	}
	return len(asked)
}
