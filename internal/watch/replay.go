package watch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	apiwatch "k8s.io/apimachinery/pkg/watch"
)

// ErrCompacted says the API server no longer holds the changes since the resourceVersion asked
// for: its watch cache or etcd dropped them.
var ErrCompacted = errors.New("the API server no longer holds that history")

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
// the watch has been quiet for a second. It fails with ErrCompacted when that history is gone.
func (w *Watches) Replay(ctx context.Context, key Key, from, until uint64) ([]Event, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wi, err := w.client.Resource(key.Resource).Namespace(key.Namespace).Watch(ctx, metav1.ListOptions{
		ResourceVersion: strconv.FormatUint(from, 10), AllowWatchBookmarks: true,
	})
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		return nil, fmt.Errorf("replaying %s from %d: %w", key, from, ErrCompacted)
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
					return nil, fmt.Errorf("replaying %s from %d: %w", key, from, ErrCompacted)
				}
				return nil, fmt.Errorf("replaying %s from %d: %w", key, from, err)
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			rv, _ := ParseVersion(u.GetResourceVersion())
			if ev.Type != apiwatch.Bookmark {
				if w.transform != nil {
					u = w.transform(u)
				}
				out = append(out, Event{Key: key, Type: eventType(ev.Type), Object: u})
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
