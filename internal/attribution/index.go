package attribution

import (
	"container/list"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Defaults of IndexOptions.
const (
	DefaultTTL      = 2 * time.Minute
	DefaultMaxFacts = 100_000
)

// IndexOptions configure an Index; the zero value works.
type IndexOptions struct {
	// TTL is how long an unmatched fact is kept (default DefaultTTL).
	TTL time.Duration
	// MaxFacts caps the facts kept; beyond it the oldest are dropped (default DefaultMaxFacts).
	MaxFacts int
	// Clock tells the time (default the real clock).
	Clock clock.PassiveClock
	// Metrics may be nil.
	Metrics *Metrics
	// LateFacts says facts may arrive after the watch delivered their change: an audit webhook
	// sends them after the write, and other replicas' facts come through their journals. Without
	// it (admission on one replica) a fact is recorded before the API server writes.
	LateFacts bool
}

// Index holds recent facts and answers who made an observed change. It is safe for concurrent use.
type Index struct {
	ttl     time.Duration
	max     int
	clock   clock.PassiveClock
	metrics *Metrics
	late    bool
	peers   func(seen time.Time) bool // guarded by mu

	mu      sync.Mutex
	byKey   map[factKey][]*fact // per key, oldest first; may hold facts already gone (see trim)
	order   *list.List          // live facts, oldest first
	updated chan struct{}

	journal *journal // what this replica's receivers recorded, for the leader
}

// source is where a fact came from; it is also the metrics' source label.
type source string

const (
	sourceAdmission source = "admission"
	sourceAudit     source = "audit"
)

type keyKind uint8

const (
	auditVersion    keyKind = iota + 1 // UID + resourceVersion
	auditDelete                        // UID of a deleted object
	admissionChange                    // identity + operation + UID + content hash
	admissionDelete                    // identity + UID of a deleted object
)

// factKey is what a fact is filed under and a query looks up; unused fields stay empty.
type factKey struct {
	kind    keyKind
	cluster string
	Identity
	operation, uid, resourceVersion, contentHash string
}

type fact struct {
	source   source
	user     User
	keys     []factKey
	recorded time.Time
	elem     *list.Element // in order; nil once matched, expired or dropped
}

// NewIndex returns an empty Index.
func NewIndex(opts IndexOptions) *Index {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxFacts <= 0 {
		opts.MaxFacts = DefaultMaxFacts
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Index{
		ttl:     opts.TTL,
		max:     opts.MaxFacts,
		clock:   opts.Clock,
		metrics: opts.Metrics,
		late:    opts.LateFacts,
		byKey:   map[factKey][]*fact{},
		order:   list.New(),
		updated: make(chan struct{}),
		journal: newJournal(opts.TTL, opts.MaxFacts, opts.Clock),
	}
}

// Updated returns a channel that is closed the next time a fact is recorded, so that a caller
// waiting for attribution can select on it together with its deadline, then Lookup again.
func (x *Index) Updated() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.updated
}

// Settled says whether every fact about a change the watch delivered at seen is in. An admission
// fact this replica received is recorded before the API server writes, so it is in; audit facts
// (IndexOptions.LateFacts) come after the write, and the caller waits for its own deadline;
// other replicas' facts are in once SettleWith's function says so, asked again every
// settleRecheck.
func (x *Index) Settled(seen time.Time) (bool, time.Time) {
	x.mu.Lock()
	peers := x.peers
	x.mu.Unlock()
	switch {
	case x.late:
		return false, time.Time{}
	case peers != nil && !peers(seen):
		return false, x.clock.Now().Add(settleRecheck)
	}
	return true, time.Time{}
}

// settleRecheck is how often a change waiting on other replicas' journals asks again: a few
// times per journal heartbeat.
const settleRecheck = 25 * time.Millisecond

// SettleWith makes Settled also ask peers whether every other replica's facts up to seen are
// in (the leader's reader of their journals).
func (x *Index) SettleWith(peers func(seen time.Time) bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.peers = peers
}

// RecordAdmission records a write the admission webhook saw. A CREATE or UPDATE without a content
// hash, or a DELETE without a UID, can never match and is ignored.
func (x *Index) RecordAdmission(f AdmissionFact) { x.recordAdmission(f, true) }

func (x *Index) recordAdmission(f AdmissionFact, local bool) {
	var key factKey
	switch f.Operation {
	case OperationCreate, OperationUpdate:
		if f.ContentHash == "" {
			return
		}
		key = factKey{kind: admissionChange, cluster: f.Cluster, Identity: f.Identity, operation: f.Operation, uid: f.UID, contentHash: f.ContentHash}
	case OperationDelete:
		if f.UID == "" {
			return
		}
		key = factKey{kind: admissionDelete, cluster: f.Cluster, Identity: f.Identity, uid: f.UID}
	default:
		return
	}
	x.record(sourceAdmission, f.User, key)
	if local {
		x.journal.add(JournalEntry{Admission: &f})
	}
}

// RecordAudit records a completed write from the audit log. A fact without a UID, or a CREATE or
// UPDATE without a resourceVersion, can never match and is ignored.
func (x *Index) RecordAudit(f AuditFact) { x.recordAudit(f, true) }

func (x *Index) recordAudit(f AuditFact, local bool) {
	if f.UID == "" {
		return
	}
	version := factKey{kind: auditVersion, cluster: f.Cluster, uid: f.UID, resourceVersion: f.ResourceVersion}
	switch f.Operation {
	case OperationCreate, OperationUpdate:
		if f.ResourceVersion == "" {
			return
		}
		x.record(sourceAudit, f.User, version)
	case OperationDelete:
		keys := []factKey{{kind: auditDelete, cluster: f.Cluster, uid: f.UID}}
		if f.ResourceVersion != "" {
			keys = append(keys, version)
		}
		x.record(sourceAudit, f.User, keys...)
	default:
		return
	}
	if local {
		x.journal.add(JournalEntry{Audit: &f})
	}
}

// Lookup returns who made the change q describes, without waiting, and consumes the fact it
// matched. Audit facts are tried first, then admission facts; see the package documentation.
func (x *Index) Lookup(q Query) (User, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.expire(x.clock.Now())
	for _, key := range queryKeys(q) {
		if f := x.oldest(key); f != nil {
			x.remove(f)
			x.metrics.matched(f.source)
			return f.user, true
		}
	}
	return User{}, false
}

// queryKeys are the keys that can answer q, best first.
func queryKeys(q Query) []factKey {
	if q.UID == "" {
		return nil
	}
	switch q.Operation {
	case OperationCreate, OperationUpdate:
		keys := make([]factKey, 0, 2)
		if q.ResourceVersion != "" {
			keys = append(keys, factKey{kind: auditVersion, cluster: q.Cluster, uid: q.UID, resourceVersion: q.ResourceVersion})
		}
		if q.ContentHash != "" {
			keys = append(keys, factKey{kind: admissionChange, cluster: q.Cluster, Identity: q.Identity, operation: q.Operation, uid: q.UID, contentHash: q.ContentHash})
		}
		return keys
	case OperationDelete:
		return []factKey{{kind: auditDelete, cluster: q.Cluster, uid: q.UID}, {kind: admissionDelete, cluster: q.Cluster, Identity: q.Identity, uid: q.UID}}
	}
	return nil
}

func (x *Index) record(src source, user User, keys ...factKey) {
	x.mu.Lock()
	defer x.mu.Unlock()
	now := x.clock.Now()
	x.expire(now)
	f := &fact{source: src, user: user, keys: keys, recorded: now}
	f.elem = x.order.PushBack(f)
	for _, k := range keys {
		x.byKey[k] = append(x.byKey[k], f)
	}
	x.metrics.recorded(src)
	for x.order.Len() > x.max {
		oldest := x.order.Front().Value.(*fact)
		x.remove(oldest)
		x.metrics.dropped(oldest.source)
	}
	close(x.updated)
	x.updated = make(chan struct{})
}

// expire removes the facts recorded a TTL or more before now.
func (x *Index) expire(now time.Time) {
	for e := x.order.Front(); e != nil; e = x.order.Front() {
		f := e.Value.(*fact)
		if now.Sub(f.recorded) < x.ttl {
			return
		}
		x.remove(f)
		x.metrics.expired(f.source)
	}
}

// oldest returns the oldest live fact under key, or nil.
func (x *Index) oldest(key factKey) *fact {
	x.trim(key)
	if facts := x.byKey[key]; len(facts) > 0 {
		return facts[0]
	}
	return nil
}

// remove takes f out of the Index.
func (x *Index) remove(f *fact) {
	x.order.Remove(f.elem)
	f.elem = nil
	for _, k := range f.keys {
		x.trim(k)
	}
	x.metrics.removed(f.source)
}

// trim drops the gone facts at the front of key's queue. A fact is always removed from the front
// of its queues (facts are matched, expire and are dropped oldest first), except that a fact filed
// under two keys can be matched through one while older facts still wait in the other; it is then
// trimmed once those are gone, so queues hold no more than the live facts and such leftovers.
func (x *Index) trim(key factKey) {
	facts := x.byKey[key]
	i := 0
	for i < len(facts) && facts[i].elem == nil {
		facts[i] = nil
		i++
	}
	switch {
	case i == len(facts):
		delete(x.byKey, key)
	case i > 0:
		x.byKey[key] = facts[i:]
	}
}
