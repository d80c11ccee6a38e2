package capture

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

// Trailers that make Git the cursor of a target's watches (docs/architecture.md, "History across
// restarts"): every commit of a target names it, says the resourceVersion below which every
// change its watches reported is in Git (the watermark: changes are not committed in
// resourceVersion order, since one object's wait for its author holds back only that object),
// and the newest resourceVersion any of its commits records.
const (
	trailerTarget = "GitTarget"
	// trailerObject names the object of a change commit, namespace/name: the subject may be a
	// person's template.
	trailerObject    = "Kubernetes-Object"
	trailerWatermark = "Kubernetes-Watermark"
	trailerNewest    = "Kubernetes-Newest-Resource-Version"
	// trailerCluster names the remote cluster (its kubeconfig Secret) a target captured when
	// the commit was made; the operator's own cluster writes none. A cursor is only read from
	// commits of the cluster running now: another cluster's resourceVersions mean nothing here.
	trailerCluster = "Kubernetes-Cluster"
)

// cursorTrailers are the trailers of a commit of target.
func cursorTrailers(target, cluster string, watermark, newest uint64) string {
	if target == "" {
		return ""
	}
	out := fmt.Sprintf("%s: %s\n", trailerTarget, oneLine(target))
	if cluster != "" {
		out += fmt.Sprintf("%s: %s\n", trailerCluster, oneLine(cluster))
	}
	if watermark == 0 {
		return out
	}
	return out + fmt.Sprintf("%s: %d\n%s: %d\n", trailerWatermark, watermark, trailerNewest, max(newest, watermark))
}

// objectID names an object across its commits: resource, namespace and name.
type objectID struct {
	gr              schema.GroupResource
	namespace, name string
}

// cursor is what the branch says about a target's last run.
type cursor struct {
	found     bool
	watermark uint64
	newest    uint64
	// committed is, for every object committed above the watermark, the newest resourceVersion
	// committed; complete says the history held reached below the watermark, so that an object
	// missing from committed has nothing above it.
	committed map[objectID]uint64
	complete  bool
}

// readCursor walks the branch back from its head to the target's newest commit, and from there
// through every commit that may hold a change above its watermark.
func (t *target) readCursor(ctx context.Context) (cursor, error) {
	cur := cursor{committed: map[objectID]uint64{}}
	err := t.writer.History(ctx, func(c gitwriter.HistoryCommit) bool {
		tr := trailers(c.Message)
		if tr[trailerTarget] != t.name {
			return true // another target's, or a person's
		}
		if tr[trailerCluster] != t.p.opts.ClusterID {
			// Written while the target captured another cluster: the folder holds that
			// cluster's objects, and only a reconcile can tell what this one changes.
			cur.complete = true
			return false
		}
		newest, _ := watch.ParseVersion(tr[trailerNewest])
		if !cur.found {
			w, ok := watch.ParseVersion(tr[trailerWatermark])
			if !ok {
				cur.complete = true
				return false // written without a cursor: nothing to resume from
			}
			cur.found, cur.watermark, cur.newest = true, w, newest
		}
		if rv, ok := watch.ParseVersion(tr["Kubernetes-Resource-Version"]); ok && rv > cur.watermark {
			if id, ok := commitObject(c.Message, tr["Kubernetes-Resource"], tr[trailerObject]); ok && rv > cur.committed[id] {
				cur.committed[id] = rv
			}
		}
		if newest != 0 && newest <= cur.watermark {
			cur.complete = true // older commits record nothing above the watermark
			return false
		}
		return true
	})
	return cur, err
}

// trailers reads a commit message's trailers (the last paragraph's "Key: value" lines); a key
// given more than once keeps its first value.
func trailers(message string) map[string]string {
	paragraphs := strings.Split(strings.TrimSpace(message), "\n\n")
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(paragraphs[len(paragraphs)-1]))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ": ")
		if _, seen := out[key]; ok && !seen {
			out[key] = value
		}
	}
	return out
}

// commitObject is the object a change commit is about: its Kubernetes-Object trailer names the
// namespace and name (the subject does in commits written before the trailer), the
// Kubernetes-Resource trailer ("apps/v1, Resource=deployments") the resource.
func commitObject(message, resource, object string) (objectID, bool) {
	gv, plural, ok := strings.Cut(resource, ", Resource=")
	if !ok {
		return objectID{}, false
	}
	if object == "" { // written before the trailer: the default subject names it
		subject, _, _ := strings.Cut(message, "\n")
		f := strings.Fields(subject)
		if len(f) < 3 {
			return objectID{}, false
		}
		object = f[2]
	}
	group := ""
	if g, _, found := strings.Cut(gv, "/"); found {
		group = g
	}
	id := objectID{gr: schema.GroupResource{Group: group, Resource: plural}}
	if ns, name, found := strings.Cut(object, "/"); found {
		id.namespace, id.name = ns, name
	} else {
		id.name = object
	}
	return id, true
}

// progressSettle is how long a watch's progress is held back before it counts for the watermark:
// the informer reads an event before its handler has it, and the handler only queues, so by then
// every event at or below it has reached the queue.
const progressSettle = 2 * time.Second

type progressSample struct {
	sample, settled uint64
	at              time.Time
}

// watermark is the resourceVersion at or below which every change the target's watches
// reported is committed once the change `committing` is: the oldest change still waiting bounds
// it, and so does each watch's progress. Zero when unknown. Called on the worker goroutine.
func (t *target) watermark(committing *change) uint64 {
	now := t.p.opts.Clock.Now()
	t.mu.Lock()
	keys := make([]watch.Key, 0, len(t.sources))
	for k := range t.sources {
		keys = append(keys, k)
	}
	t.mu.Unlock()
	for _, k := range keys {
		s := t.progress[k]
		if s == nil || now.Sub(s.at) >= progressSettle {
			if s == nil {
				s = &progressSample{}
				t.progress[k] = s
			}
			rv, _ := t.p.opts.Watches.Progress(k)
			s.settled, s.sample, s.at = s.sample, rv, now
		}
	}
	w := uint64(math.MaxUint64)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		reached := t.delivered[k]
		if s := t.progress[k]; s != nil {
			reached = max(reached, s.settled)
		}
		w = min(w, reached)
	}
	for _, pending := range t.queue.byPath {
		for _, c := range pending {
			if c != committing && c.firstRV > 0 {
				w = min(w, c.firstRV-1)
			}
		}
	}
	for _, c := range t.held {
		if c != committing && c.firstRV > 0 {
			w = min(w, c.firstRV-1)
		}
	}
	for _, e := range t.buffered {
		if rv, ok := watch.ParseVersion(e.Object.GetResourceVersion()); ok {
			w = min(w, rv-1)
		}
	}
	if w == math.MaxUint64 {
		return 0
	}
	return w
}

// noteCommitted raises the newest resourceVersion the target's commits record.
func (t *target) noteCommitted(rv string) {
	if n, ok := watch.ParseVersion(rv); ok {
		t.newest = max(t.newest, n)
	}
}
