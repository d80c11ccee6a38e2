package capture

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

// resumePhase is where a starting target stands with the history since Git's cursor.
type resumePhase int

const (
	// resumeStart: new events wait in the buffer until the cursor is read and the history
	// since it queued.
	resumeStart resumePhase = iota
	// resumeDraining: the history is queued and is being committed, each change on its own.
	resumeDraining
	// resumeDone: the first reconcile may run; it commits what the history could not give.
	resumeDone
)

// replayConcurrency bounds the watches whose history a resuming target reads at once.
const replayConcurrency = 16

// resumeRetry is how soon a resume that could not start (the branch not read yet) is tried again.
const resumeRetry = 250 * time.Millisecond

// resumeNow reads the target's cursor from the branch and queues, one change each, what its
// watches reported after the watermark and Git does not hold yet: a restart or a failover then
// loses no history, and commits nothing twice. Where the API server no longer holds that
// history, the first reconcile says so and commits the difference. It returns when to try again.
func (t *target) resumeNow(ctx context.Context) time.Time {
	cur, err := t.readCursor(ctx)
	if errors.Is(err, gitwriter.ErrNotSynced) {
		return t.p.opts.Clock.Now().Add(resumeRetry)
	}
	if err != nil {
		if ctx.Err() != nil {
			return t.p.opts.Clock.Now().Add(resumeRetry)
		}
		t.log.Error(err, "Cannot read the branch's history; the first reconcile stands in for what changed meanwhile")
	}
	if err != nil || !cur.found {
		t.endReplay(nil, nil)
		t.resume = resumeDone
		return time.Time{}
	}
	t.mu.Lock()
	keys := make([]watch.Key, 0, len(t.sources))
	for k := range t.sources {
		keys = append(keys, k)
	}
	folder := t.current.Folder
	t.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })

	// Each watch's history is read at once, side by side: a quiet one takes replayIdle to end.
	type replay struct {
		events []watch.Event
		until  uint64
		err    error
		// lostUpTo is where the history the API server still holds began, when it no longer
		// held all of it since the watermark: what lies between is lost, the rest replayed.
		lostUpTo uint64
		// unsent is the part of the history the API server did not send in time.
		unsent *watch.IncompleteError
	}
	results := make([]replay, len(keys))
	var wg sync.WaitGroup
	slots := make(chan struct{}, replayConcurrency)
	for i, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			r := &results[i]
			if r.until, r.err = t.p.opts.Watches.Current(ctx, key); r.err != nil {
				return
			}
			r.events, r.err = t.p.opts.Watches.Replay(ctx, key, cur.watermark, r.until)
			var gap *watch.CompactedError
			if errors.As(r.err, &gap) && gap.Oldest > cur.watermark {
				r.lostUpTo = gap.Oldest
				r.events, r.err = t.p.opts.Watches.Replay(ctx, key, gap.Oldest, r.until)
			}
			if errors.As(r.err, &r.unsent) {
				r.err = nil // what it sent is replayed; the first reconcile says what it did not
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return t.p.opts.Clock.Now().Add(resumeRetry)
	}
	var history []watch.Event
	reached := map[watch.Key]uint64{}
	var lost, gaps, unsent []string
	for i, key := range keys {
		if r := results[i]; r.err == nil {
			history = append(history, r.events...)
			reached[key] = r.until
			if r.lostUpTo > 0 {
				gaps = append(gaps, fmt.Sprintf("between resourceVersion %d and %d of %s", cur.watermark, r.lostUpTo, key))
			}
			if u := r.unsent; u != nil {
				unsent = append(unsent, fmt.Sprintf("the API server did not send the changes between resourceVersion %d and %d of %s within %s",
					u.Reached, u.Until, key, u.Waited))
			}
			continue
		}
		lost = append(lost, key.String())
		if !errors.Is(results[i].err, watch.ErrCompacted) {
			t.log.Error(results[i].err, "Cannot read the history of a watch since Git's cursor", "resource", key.String())
		}
	}
	known, err := t.writer.Files(ctx, folder)
	if err != nil {
		return t.p.opts.Clock.Now().Add(resumeRetry)
	}
	t.known = known
	t.newest = max(t.newest, cur.newest)
	inGit := t.heldInGit(cur, history)
	replayed := t.endReplay(history, func(e watch.Event) bool {
		if t.alreadyCommitted(cur, e) {
			return true
		}
		rv, _ := watch.ParseVersion(e.Object.GetResourceVersion())
		return rv <= inGit[t.pathOf(e)]
	})
	t.mu.Lock()
	for key, rv := range reached {
		t.delivered[key] = max(t.delivered[key], rv)
	}
	var missing []string
	if len(lost) > 0 {
		missing = append(missing, fmt.Sprintf("since resourceVersion %d of %s", cur.watermark, strings.Join(lost, ", ")))
	}
	missing = append(missing, gaps...)
	var why []string
	if len(missing) > 0 {
		why = append(why, "the API server no longer holds the changes "+strings.Join(missing, "; "))
	}
	if why = append(why, unsent...); len(why) > 0 {
		t.reconcile = "start; " + strings.Join(why, "; ")
	}
	t.mu.Unlock()
	t.log.Info("Resuming from Git's cursor", "watermark", cur.watermark, "replayed", replayed, "historyLost", lost, "historyGaps", gaps, "historyUnsent", unsent)
	t.replayLeft = replayed
	t.resume = resumeDraining
	return time.Time{}
}

// alreadyCommitted says whether the branch holds e's change already: the history walk found a
// commit of the object at or past e's resourceVersion. Called with t.mu held.
func (t *target) alreadyCommitted(cur cursor, e watch.Event) bool {
	rv, ok := watch.ParseVersion(e.Object.GetResourceVersion())
	if !ok || rv <= cur.watermark {
		return true
	}
	src := t.sources[e.Key]
	if src == nil {
		return true
	}
	id := objectID{gr: src.Resource.GroupResource(), namespace: e.Object.GetNamespace(), name: e.Object.GetName()}
	return rv <= cur.committed[id]
}

// endReplay queues the history (but what skip, called with t.mu held, says is in Git), then the events that arrived
// meanwhile, but those the history already had, and lets new events through. It returns how
// many changes of the history it queued.
func (t *target) endReplay(history []watch.Event, skip func(watch.Event) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := map[string]uint64{} // newest resourceVersion queued per path
	queued := 0
	for _, e := range history {
		if skip(e) {
			continue
		}
		path, coalesced, ok := t.enqueue(e, true)
		if !ok {
			continue
		}
		if !coalesced {
			queued++
		}
		rv, _ := watch.ParseVersion(e.Object.GetResourceVersion())
		last[path] = max(last[path], rv)
	}
	for _, e := range t.buffered {
		if len(last) > 0 {
			rv, _ := watch.ParseVersion(e.Object.GetResourceVersion())
			if path := t.pathOf(e); path != "" && rv != 0 && rv <= last[path] {
				continue // the history had it
			}
		}
		t.enqueue(e, false)
	}
	t.buffered, t.replaying = nil, false
	return queued
}

// heldInGit is, for objects the history walk did not reach (it ended before the watermark), the
// resourceVersion at or below which the branch already holds the object's history: that of the
// newest change whose file content is the branch's (or, for a deleted object, the newest delete).
// Content that comes back (A, B, A) matches the newest, so a change may be left out of the
// history but none is made twice. Encrypted and field-level files are not compared: their
// content is not the rendered object's.
func (t *target) heldInGit(cur cursor, history []watch.Event) map[string]uint64 {
	out := map[string]uint64{}
	if cur.complete {
		return out
	}
	t.mu.Lock()
	byPath := map[string][]watch.Event{}
	for _, e := range history {
		src := t.sources[e.Key]
		if src == nil {
			continue
		}
		id := objectID{gr: src.Resource.GroupResource(), namespace: e.Object.GetNamespace(), name: e.Object.GetName()}
		if _, walked := cur.committed[id]; walked {
			continue
		}
		if path := t.pathOf(e); path != "" {
			byPath[path] = append(byPath[path], e)
		}
	}
	t.mu.Unlock()
	for path, events := range byPath {
		blob, present := t.known[path]
		for i := len(events) - 1; i >= 0; i-- {
			e := events[i]
			rv, _ := watch.ParseVersion(e.Object.GetResourceVersion())
			if e.Type == watch.Deleted {
				if !present {
					out[path] = rv
					break
				}
				continue
			}
			if present && rendersTo(e.Object, blob) {
				out[path] = rv
				break
			}
		}
	}
	return out
}

// pathOf is the file of e's object; "" when it has none. Called with t.mu held.
func (t *target) pathOf(e watch.Event) string {
	src := t.sources[e.Key]
	if src == nil {
		return ""
	}
	path, err := objectPath(t.current.Folder, src, e.Object, t.p.opts.Sensitive(src.Resource.GroupResource()))
	if err != nil {
		return ""
	}
	return path
}

// rendersTo says whether o's file content has the blob hash blob.
func rendersTo(o *watch.Object, blob plumbing.Hash) bool {
	obj, err := o.Decode()
	if err != nil {
		return false
	}
	data, err := render(obj)
	return err == nil && gitwriter.BlobHash(data) == blob
}
