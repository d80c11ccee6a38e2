package capture

import (
	"sort"
	"time"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

// change is an observed change of one object, waiting to become a commit.
type change struct {
	seq    uint64
	source watch.Key
	op     configv1alpha1.OperationType
	state  *watch.Object
	seen   time.Time
	// earlier are the attribution queries of the changes coalesced into this one, oldest first.
	earlier []attribution.Query
	// taken is set while the worker commits the change: it no longer takes later states.
	taken bool
	// firstRV is the resourceVersion of the first change folded into this one (0: unknown):
	// until it is committed, the watermark stays below it.
	firstRV uint64
	// replayed: rebuilt from the API server's history at start, before the first reconcile.
	replayed bool
	// folded: the state a watch's re-list found, standing for changes whose history is gone.
	folded bool
}

// queue holds the pending changes of a target, in order per object path. Under pressure (more
// than limit pending) a new change of an object that already waits is folded into the waiting
// one: its state is replaced by the newer one, and the older change's attribution query is kept
// so that its author still appears in the commit.
type queue struct {
	byPath map[string][]*change
	total  int
	limit  int
	seq    uint64
}

func newQueue(limit int) *queue {
	return &queue{byPath: map[string][]*change{}, limit: limit}
}

// push appends c to path's changes, or folds it into the last waiting one under pressure.
// query describes a change for attribution; it is only called when folding.
func (q *queue) push(path string, c *change, query func(*change) attribution.Query) (coalesced bool) {
	pending := q.byPath[path]
	if q.total >= q.limit && len(pending) > 0 {
		if last := pending[len(pending)-1]; !last.taken {
			last.earlier = append(last.earlier, query(last))
			last.op = foldOperations(last.op, c.op)
			last.state, last.source = c.state, c.source
			last.folded = last.folded || c.folded
			return true
		}
	}
	q.seq++
	c.seq = q.seq
	q.byPath[path] = append(pending, c)
	q.total++
	return false
}

// foldOperations is the operation that takes an object from before `first` to after `then`.
func foldOperations(first, then configv1alpha1.OperationType) configv1alpha1.OperationType {
	switch {
	case then == configv1alpha1.OperationDelete:
		return then
	case first == configv1alpha1.OperationCreate:
		return first // created, then changed: still a creation
	case first == configv1alpha1.OperationDelete:
		return configv1alpha1.OperationUpdate // deleted and created again: a change
	default:
		return then
	}
}

// head returns the oldest change of path and marks it taken.
func (q *queue) head(path string) (*change, bool) {
	pending := q.byPath[path]
	if len(pending) == 0 {
		return nil, false
	}
	pending[0].taken = true
	return pending[0], true
}

// release gives a taken head back: it waits (for its author) and may take later states again.
func (q *queue) release(path string) {
	if pending := q.byPath[path]; len(pending) > 0 {
		pending[0].taken = false
	}
}

// pop removes the head of path.
func (q *queue) pop(path string) {
	pending := q.byPath[path]
	if len(pending) == 0 {
		return
	}
	pending[0] = nil
	if len(pending) == 1 {
		delete(q.byPath, path)
	} else {
		q.byPath[path] = pending[1:]
	}
	q.total--
}

// paths returns the paths with pending changes, the one waiting longest first.
func (q *queue) paths() []string {
	out := make([]string, 0, len(q.byPath))
	for p := range q.byPath {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return q.byPath[out[i]][0].seq < q.byPath[out[j]][0].seq })
	return out
}

// has reports whether path has pending changes.
func (q *queue) has(path string) bool { return len(q.byPath[path]) > 0 }

// waitsFrom reports whether a change queued at or before seq still waits. A change folded into a
// waiting one keeps that one's place, so it counts from the older seq.
func (q *queue) waitsFrom(seq uint64) bool {
	for _, pending := range q.byPath {
		if len(pending) > 0 && pending[0].seq <= seq {
			return true
		}
	}
	return false
}
