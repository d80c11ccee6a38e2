package apply

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"reflect"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

// Status is what a running target reports for its GitTarget's status.
type Status struct {
	// Done is set once a revision was applied (whatever its problems).
	Done bool
	// Revision is the commit last applied.
	Revision string
	// Inventory is what the target applied, for status.inventory.
	Inventory []configv1alpha1.ResourceRef
	// Reason and Message are the Applied condition's.
	Reason, Message string
	// Pruned names the objects the last passes deleted, for Events; cleared when read by
	// TakePruned.
	Pruned []string
}

// cachedFile is a file of the folder as last read: its blob and what it held.
type cachedFile struct {
	blob      plumbing.Hash
	manifests []Manifest
	problems  []Problem
}

// target runs one GitTarget's Git → cluster direction: a worker goroutine that applies each new
// revision of the folder, and the drift watch's handler, which queues objects changed in the
// cluster for the worker to put back.
type target struct {
	a    *Applier
	key  types.NamespacedName
	user string
	name string
	log  logr.Logger

	mu        sync.Mutex
	current   Plan
	watched   map[watch.Key]bool
	fetch     string // why a fetch and full pass is wanted; empty: none
	drifted   map[ObjectID]bool
	desired   map[ObjectID]Selected // the objects of the last pass, for drift
	status    Status
	notifying bool

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	// Owned by the worker.
	writer    *gitwriter.Writer
	files     map[string]cachedFile
	clean     map[ObjectID][32]byte // objects known equal to Git since they were last applied
	inventory Inventory
	loaded    bool // inventory read from the plan
	started   bool // a first pass was asked for
	// untrusted: what was clean may not be any more (the plan changed: another account, other
	// keys; or the watch re-listed, so drift in the gap reached nobody). The next pass forgets it.
	untrusted bool
}

func newTarget(a *Applier, plan Plan) *target {
	name := plan.Target.String()
	return &target{
		a: a, key: plan.Target, user: "GitTarget " + name + " (apply)", name: name,
		log:     a.opts.Log.WithValues("gitTarget", name),
		current: plan, watched: map[watch.Key]bool{}, drifted: map[ObjectID]bool{}, desired: map[ObjectID]Selected{},
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		files: map[string]cachedFile{}, clean: map[ObjectID][32]byte{}, inventory: Inventory{},
	}
}

func (t *target) plan() Plan {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.current
}

func (t *target) start(ctx context.Context) {
	ctx, t.cancel = context.WithCancel(ctx)
	t.log.Info("Applying GitTarget", "repository", t.current.Writer.URL, "branch", t.current.Writer.Branch, "folder", t.current.Folder)
	go t.run(ctx)
}

// update takes a new plan: the drift watches follow its resources, and the next pass applies
// with its rules.
func (t *target) update(plan Plan) error {
	wanted := map[watch.Key]bool{}
	for _, s := range plan.Sources {
		for _, r := range s.Rules {
			if r.AppliesFields() {
				wanted[watch.Key{Resource: s.Resource, Namespace: s.Namespace}] = true
			}
		}
	}
	t.mu.Lock()
	old := t.watched
	before := t.current
	t.watched = wanted
	t.current = plan
	t.mu.Unlock()
	for key := range wanted {
		if !old[key] {
			if err := t.a.opts.Watches.Subscribe(context.Background(), key, t.user, t.handle); err != nil {
				return err
			}
		}
	}
	for key := range old {
		if !wanted[key] {
			t.a.opts.Watches.Unsubscribe(key, t.user)
		}
	}
	// GitTargets are reconciled often (their status follows every pass): only a plan that
	// changed asks for a pass. The inventory is read once, at start.
	before.Inventory, plan.Inventory = nil, nil
	if !t.started || !reflect.DeepEqual(before, plan) {
		t.mu.Lock()
		t.started, t.untrusted = true, true
		t.mu.Unlock()
		t.request("rules changed")
	}
	return nil
}

func (t *target) stop() {
	t.mu.Lock()
	watched := t.watched
	t.watched = map[watch.Key]bool{}
	t.mu.Unlock()
	for key := range watched {
		t.a.opts.Watches.Unsubscribe(key, t.user)
	}
	if t.cancel != nil {
		t.cancel()
		<-t.done
	}
	t.a.opts.Writers.Release(t.user, t.current.Writer)
	t.a.opts.Metrics.forget(t.name)
	t.log.Info("Stopped applying GitTarget")
}

// handle receives the drift watches' events: an applied object that changed or went is queued to
// be put back. It only queues.
func (t *target) handle(e watch.Event) {
	switch {
	case e.Type == watch.Relisted:
		t.mu.Lock()
		t.untrusted = true
		t.mu.Unlock()
		t.request("watch re-listed")
		return
	case e.Initial || e.Object == nil:
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := ObjectID{Namespace: e.Object.GetNamespace(), Name: e.Object.GetName(), Group: e.Key.Resource.Group, Kind: t.kindOf(e.Key.Resource)}
	sel, ok := t.desired[id]
	if !ok {
		return // not one of ours
	}
	if e.Type != watch.Deleted && holds(sel, e.Object) {
		return // what Git says still holds (our own apply, or a change to fields Git does not set)
	}
	t.drifted[id] = true
	t.signal()
}

// kindOf is the kind of a watched resource, from the plan. Called with t.mu held.
func (t *target) kindOf(gvr schema.GroupVersionResource) string {
	for _, s := range t.current.Sources {
		if s.Resource == gvr {
			return s.Kind
		}
	}
	return ""
}

func (t *target) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// request asks for a fetch and a full pass.
func (t *target) request(reason string) {
	t.mu.Lock()
	if t.fetch == "" {
		t.fetch = reason
	}
	t.mu.Unlock()
	t.signal()
}

func (t *target) currentStatus() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.status
	s.Inventory = append([]configv1alpha1.ResourceRef(nil), s.Inventory...)
	return s
}

// TakePruned returns the objects pruned since it was last called.
func (a *Applier) TakePruned(key types.NamespacedName) []string {
	a.mu.Lock()
	t, ok := a.targets[key]
	a.mu.Unlock()
	if !ok {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.status.Pruned
	t.status.Pruned = nil
	return out
}

// setStatus changes the status and tells OnStatus when it changed.
func (t *target) setStatus(change func(*Status)) {
	t.mu.Lock()
	before, _ := json.Marshal(t.status)
	change(&t.status)
	after, _ := json.Marshal(t.status)
	notify := string(before) != string(after) && t.a.opts.OnStatus != nil && !t.notifying
	if notify {
		t.notifying = true
	}
	t.mu.Unlock()
	if notify {
		go func() {
			t.mu.Lock()
			t.notifying = false
			t.mu.Unlock()
			t.a.opts.OnStatus(t.key)
		}()
	}
}

// run is the worker: a full pass when asked (start, interval, annotation, push webhook, rule
// change), and drift corrections as the watch reports them.
func (t *target) run(ctx context.Context) {
	defer close(t.done)
	interval := t.plan().Interval
	if interval <= 0 {
		interval = time.Minute
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		t.mu.Lock()
		reason := t.fetch
		t.fetch = ""
		if t.untrusted && reason != "" {
			t.untrusted = false
			t.clean = map[ObjectID][32]byte{}
		}
		drifted := t.drifted
		t.drifted = map[ObjectID]bool{}
		t.mu.Unlock()
		if reason != "" && !t.pass(ctx, reason) {
			retry.Reset(2 * time.Second)
		}
		// After a pass too: the pass skips objects it knows clean, and these no longer are.
		if len(drifted) > 0 {
			t.correct(ctx, drifted)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		case <-ticker.C:
			t.request("interval")
		case <-retry.C:
			t.request("retry")
		}
	}
}

// digest identifies the content of a Git object, to tell an unchanged one from a changed one.
func digest(s Selected) [32]byte {
	data, _ := json.Marshal(s.Object.Object)
	return sha256.Sum256(data)
}

// holds says whether what Git sets in sel still holds in o. An object that cannot be read is
// taken as drifted: applying again reads it from the API server.
func holds(sel Selected, o *watch.Object) bool {
	obj, err := o.Decode()
	return err == nil && sel.holds(obj.Object)
}
