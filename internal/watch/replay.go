package watch

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	apiwatch "k8s.io/apimachinery/pkg/watch"
)

// ErrCompacted says the API server no longer holds the changes since the resourceVersion asked
// for: its watch cache or etcd dropped them. Replay's errors wrap it in a *CompactedError.
var ErrCompacted = errors.New("the API server no longer holds that history")

// CompactedError is ErrCompacted for one replay, with where the history the API server still
// holds begins when it says so: a watch cache that starts later than the resourceVersion asked
// for (the API server restarted, or the cache's window moved on) answers "too old resource
// version: <asked> (<oldest>)", and a replay from <oldest> then reads the rest. etcd's own
// compaction does not say, and Oldest is 0.
type CompactedError struct {
	Key          Key
	From, Oldest uint64
}

func (e *CompactedError) Error() string {
	if e.Oldest == 0 {
		return fmt.Sprintf("replaying %s from %d: %v", e.Key, e.From, ErrCompacted)
	}
	return fmt.Sprintf("replaying %s from %d: %v; it holds the changes after %d", e.Key, e.From, ErrCompacted, e.Oldest)
}

func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }

// tooOld is the watch cache's answer to a watch from before its window (the cacher's
// "too old resource version: %d (%d)", unchanged since Kubernetes 1.6).
var tooOld = regexp.MustCompile(`too old resource version: \d+ \((\d+)\)`)

func compacted(key Key, from uint64, err error) error {
	gap := &CompactedError{Key: key, From: from}
	if m := tooOld.FindStringSubmatch(err.Error()); m != nil {
		if oldest, ok := ParseVersion(m[1]); ok && oldest > from {
			gap.Oldest = oldest
		}
	}
	return gap
}

// ParseVersion reads a resourceVersion as the number etcd makes it; false for any other form.
func ParseVersion(rv string) (uint64, bool) {
	n, err := strconv.ParseUint(rv, 10, 64)
	return n, err == nil && n > 0
}

// Progress is the resourceVersion up to which the watch of key has read (its last event or
// bookmark); false when key is not watched or not synced.
func (w *Watches) Progress(key Key) (uint64, bool) {
	w.mu.Lock()
	s, ok := w.watches[key]
	w.mu.Unlock()
	if !ok || !s.informer.HasSynced() {
		return 0, false
	}
	return ParseVersion(s.informer.LastSyncResourceVersion())
}

// Current is the API server's resourceVersion now, as a list of key's resource reads it.
func (w *Watches) Current(ctx context.Context, key Key) (uint64, error) {
	list, err := w.client.Resource(key.Resource).Namespace(key.Namespace).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("listing %s: %w", key, err)
	}
	rv, ok := ParseVersion(list.GetResourceVersion())
	if !ok {
		return 0, fmt.Errorf("listing %s: resourceVersion %q is not a number", key, list.GetResourceVersion())
	}
	return rv, nil
}

// replayIdle is how long a replay waits for more history once it has nothing left below its
// end: the API server sends what it holds at once, so a pause this long means it has no more.
const replayIdle = time.Second

// Replay returns the changes of key's resource after resourceVersion from, up to until, in the
// order the API server made them, as Added, Updated and Deleted events (never Initial). It reads
// a watch that starts at from, and stops at the first event or bookmark at or past until, or when
// the watch has been quiet for a second. It fails with a *CompactedError (ErrCompacted) when that
// history is gone.
func (w *Watches) Replay(ctx context.Context, key Key, from, until uint64) ([]Event, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wi, err := w.client.Resource(key.Resource).Namespace(key.Namespace).Watch(ctx, metav1.ListOptions{
		ResourceVersion: strconv.FormatUint(from, 10), AllowWatchBookmarks: true,
	})
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		return nil, compacted(key, from, err)
	}
	if err != nil {
		return nil, fmt.Errorf("replaying %s from %d: %w", key, from, err)
	}
	defer wi.Stop()
	var out []Event
	idle := time.NewTimer(replayIdle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-idle.C:
			return out, nil
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return out, nil
			}
			if ev.Type == apiwatch.Error {
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return nil, compacted(key, from, err)
				}
				return nil, fmt.Errorf("replaying %s from %d: %w", key, from, err)
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			rv, _ := ParseVersion(u.GetResourceVersion())
			if ev.Type != apiwatch.Bookmark {
				out = append(out, Event{Key: key, Type: eventType(ev.Type), Object: w.keep(u)})
			}
			if rv >= until {
				return out, nil
			}
			idle.Reset(replayIdle)
		}
	}
}

func eventType(t apiwatch.EventType) EventType {
	switch t {
	case apiwatch.Added:
		return Added
	case apiwatch.Deleted:
		return Deleted
	default:
		return Updated
	}
}
