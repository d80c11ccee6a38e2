package capture

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

// Status is what a running target reports for its GitTarget's status.
type Status struct {
	// Synced is set once the first reconcile made the folder equal to the cluster.
	Synced bool
	// LastCommit is the last commit made for the target.
	LastCommit string
	// Held changes of sensitive resources wait for encryption.
	Held int
	// Problem says why the first reconcile cannot run yet; empty when it can.
	Problem string
}

// target runs one GitTarget: the subscriptions its plan needs, the queue of changes, and the
// worker goroutine that turns them into commits.
type target struct {
	p    *Pipeline
	key  types.NamespacedName
	user string // as whom it holds watches and its writer
	name string // metrics label
	log  logr.Logger

	mu        sync.Mutex
	current   Plan
	sources   map[watch.Key]*Source
	queue     *queue
	held      map[string]*change
	reconcile string        // why a reconcile is wanted; empty: none
	saves     []pendingSave // CommitRequests waiting for the worker (save.go)
	status    Status
	notified  time.Time
	notifying bool
	// delivered is the newest resourceVersion each watch handed the target; replaying holds
	// new events in buffered until the history since Git's cursor is queued (resume.go).
	delivered map[watch.Key]uint64
	replaying bool
	buffered  []watch.Event

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	// Owned by the worker goroutine.
	writer *gitwriter.Writer
	known  map[string]plumbing.Hash // what the branch holds below the folder, as far as we know
	index  map[string]indexedFile   // the objects of files outside the layout, for field-level edits
	listed time.Time                // when locate last listed the folder
	// plainKnown is, for encrypted files, the hash of the plaintext the branch holds;
	// pendingPlain what the last encryption was of, until it is committed.
	plainKnown, pendingPlain map[string][32]byte
	encryptedFor             *secrets.Keys // the keys plainKnown is for
	// The cursor (cursor.go): watches' progress as the watermark counts it, the newest
	// resourceVersion committed, and where resuming from Git's cursor stands.
	progress   map[watch.Key]*progressSample
	newest     uint64
	resume     resumePhase
	replayLeft int // replayed changes not yet committed
	// saving is the save whose reconcile runs, and saved the commit it made (save.go).
	saving *SaveRequest
	saved  string
}

func newTarget(p *Pipeline, plan Plan) *target {
	name := plan.Target.String()
	return &target{
		p:       p,
		key:     plan.Target,
		user:    "GitTarget " + name,
		name:    name,
		log:     p.opts.Log.WithValues("gitTarget", name),
		current: Plan{Target: plan.Target, Writer: plan.Writer, Folder: plan.Folder},
		sources: map[watch.Key]*Source{},
		queue:   newQueue(p.opts.MaxQueued),
		held:    map[string]*change{},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		known:   map[string]plumbing.Hash{},
		index:   map[string]indexedFile{},

		plainKnown: map[string][32]byte{}, pendingPlain: map[string][32]byte{},
		delivered: map[watch.Key]uint64{}, replaying: true, progress: map[watch.Key]*progressSample{},
	}
}

func (t *target) plan() Plan {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.current
}

func (t *target) start(ctx context.Context) {
	ctx, t.cancel = context.WithCancel(ctx)
	t.log.Info("Writing GitTarget", "repository", t.current.Writer.URL, "branch", t.current.Writer.Branch, "folder", t.current.Folder)
	go t.run(ctx)
	t.requestReconcile("start")
}

// update moves the subscriptions to those of plan. New or changed rules take a reconcile.
func (t *target) update(plan Plan) error {
	wanted := map[watch.Key]*Source{}
	for i := range plan.Sources {
		src := plan.Sources[i]
		if src.captures() {
			wanted[watch.Key{Resource: src.Resource, Namespace: src.Namespace}] = &src
		}
	}
	needLabels := false
	for _, src := range wanted {
		for _, r := range src.Rules {
			needLabels = needLabels || r.NeedsNamespaceLabels()
		}
	}
	if needLabels {
		if err := t.p.ns.need(context.Background()); err != nil {
			return err
		}
	}
	t.mu.Lock()
	old := t.sources
	changed := !reflect.DeepEqual(old, wanted)
	encryptionChanged := !reflect.DeepEqual(t.current.Encryption, plan.Encryption)
	t.sources = wanted
	t.current = plan
	t.mu.Unlock()
	if encryptionChanged {
		t.requestReconcile("encryption changed")
	}
	for key := range wanted {
		if _, ok := old[key]; ok {
			continue
		}
		if err := t.p.opts.Watches.Subscribe(context.Background(), key, t.user, t.handle); err != nil {
			return err
		}
	}
	for key := range old {
		if _, ok := wanted[key]; !ok {
			t.p.opts.Watches.Unsubscribe(key, t.user)
		}
	}
	if changed {
		// Rules may select other objects now: only a reconcile knows.
		t.requestReconcile("rules changed")
	}
	return nil
}

func (t *target) stop() {
	t.mu.Lock()
	sources := t.sources
	t.sources = map[watch.Key]*Source{}
	t.mu.Unlock()
	for key := range sources {
		t.p.opts.Watches.Unsubscribe(key, t.user)
	}
	if t.cancel != nil {
		t.cancel()
		<-t.done
	}
	t.p.opts.Writers.Release(t.user, t.current.Writer)
	t.p.opts.Metrics.forget(t.name)
	t.log.Info("Stopped writing GitTarget")
}

// handle receives the events of every subscription of the target. It only queues.
func (t *target) handle(e watch.Event) {
	switch {
	case e.Type == watch.Relisted:
		t.requestReconcile("watch re-listed")
		return
	case e.Initial:
		// The reconcile after the subscription synced covers the first list; it only needs to
		// know that this much has arrived.
		rv, _ := watch.ParseVersion(e.Object.GetResourceVersion())
		t.mu.Lock()
		t.delivered[e.Key] = max(t.delivered[e.Key], rv)
		t.mu.Unlock()
		return
	}
	t.p.opts.Metrics.observe(t.name)
	t.mu.Lock()
	if t.replaying {
		t.buffered = append(t.buffered, e)
		t.mu.Unlock()
		return
	}
	_, coalesced, ok := t.enqueue(e, false)
	queued, held := t.queue.total, len(t.held)
	t.mu.Unlock()
	if !ok {
		return
	}
	if coalesced {
		t.p.opts.Metrics.coalesce(t.name)
	}
	t.p.opts.Metrics.setQueued(t.name, queued, held)
	t.signal()
}

// enqueue queues the change e reports and returns its path. Called with t.mu held.
func (t *target) enqueue(e watch.Event, replayed bool) (path string, coalesced, ok bool) {
	rv, _ := watch.ParseVersion(e.Object.GetResourceVersion())
	t.delivered[e.Key] = max(t.delivered[e.Key], rv)
	src := t.sources[e.Key]
	if src == nil {
		return "", false, false // unsubscribed meanwhile
	}
	path, err := objectPath(t.current.Folder, src, e.Object, t.p.opts.Sensitive(src.Resource.GroupResource()))
	if err != nil {
		t.log.Error(err, "Cannot place object in the folder", "resource", src.Resource.String(),
			"namespace", e.Object.GetNamespace(), "name", e.Object.GetName())
		t.p.opts.Metrics.fail(t.name)
		return "", false, false
	}
	c := &change{source: e.Key, op: operationOf(e.Type), state: e.Object, seen: t.p.opts.Clock.Now(), firstRV: rv, replayed: replayed, folded: e.Coalesced}
	return path, t.queue.push(path, c, t.query), true
}

func operationOf(t watch.EventType) configv1alpha1.OperationType {
	switch t {
	case watch.Added:
		return configv1alpha1.OperationCreate
	case watch.Deleted:
		return configv1alpha1.OperationDelete
	default:
		return configv1alpha1.OperationUpdate
	}
}

func (t *target) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *target) requestReconcile(reason string) {
	t.mu.Lock()
	if t.reconcile == "" || reason == "start" {
		t.reconcile = reason
	}
	t.mu.Unlock()
	t.signal()
}

func (t *target) usesNamespaceLabels() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, src := range t.sources {
		for _, r := range src.Rules {
			if r.NeedsNamespaceLabels() {
				return true
			}
		}
	}
	return false
}

func (t *target) currentStatus() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.status
	s.Held = len(t.held)
	return s
}

// setStatus changes the status and tells OnStatus, at most about once a second.
func (t *target) setStatus(change func(*Status)) {
	t.mu.Lock()
	before := t.status
	change(&t.status)
	if t.status == before || t.p.opts.OnStatus == nil || t.notifying {
		t.mu.Unlock()
		return
	}
	wait := time.Second - t.p.opts.Clock.Since(t.notified)
	t.notifying = true
	t.mu.Unlock()
	notify := func() {
		t.mu.Lock()
		t.notifying, t.notified = false, t.p.opts.Clock.Now()
		t.mu.Unlock()
		t.p.opts.OnStatus(t.key)
	}
	if wait <= 0 {
		go notify()
		return
	}
	t.p.opts.Clock.AfterFunc(wait, notify)
}

// run is the worker: it reconciles when asked and commits queued changes, one object's changes
// in order, never letting one object's wait for its author hold back another's.
func (t *target) run(ctx context.Context) {
	defer close(t.done)
	resync := t.p.opts.Clock.NewTicker(t.p.opts.Resync)
	defer resync.Stop()
	for {
		var updated <-chan struct{}
		if t.p.opts.Attribution != nil {
			updated = t.p.opts.Attribution.Updated()
		}
		next := t.step(ctx)
		var timer <-chan time.Time
		stopTimer := func() bool { return false }
		if !next.IsZero() {
			tm := t.p.opts.Clock.NewTimer(next.Sub(t.p.opts.Clock.Now()))
			timer, stopTimer = tm.C(), tm.Stop
		}
		select {
		case <-ctx.Done():
			stopTimer()
			return
		case <-t.wake:
		case <-updated:
		case <-timer:
		case <-resync.C():
			t.requestReconcile("resync")
		}
		stopTimer()
	}
}

// step does what can be done now and returns when to look again without a signal (zero: no
// need).
func (t *target) step(ctx context.Context) time.Time {
	var next time.Time
	earliest := func(at time.Time) {
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if t.resume == resumeStart {
		earliest(t.resumeNow(ctx))
	}
	t.mu.Lock()
	reason := t.reconcile
	t.mu.Unlock()
	// The history since Git's cursor is committed before the first reconcile, which would
	// otherwise write the objects' newest state first.
	if reason != "" && t.resume == resumeDone {
		if retry := t.reconcileNow(ctx, reason); !retry.IsZero() {
			earliest(retry)
		}
	}
	// Until the first reconcile (or the resume) read the folder, what the branch holds is
	// unknown: changes wait (and coalesce under pressure) rather than being committed blind.
	if t.currentStatus().Synced || t.resume == resumeDraining {
		earliest(t.drain(ctx))
		if t.resume == resumeDraining && t.replayLeft <= 0 {
			t.resume = resumeDone
			t.signal() // the start's reconcile may run now
		}
	}
	if t.currentStatus().Synced && t.resume == resumeDone {
		earliest(t.saveNow(ctx))
	}
	return next
}
