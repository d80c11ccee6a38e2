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

// replayIdle is how long a replay waits for more history once it has read what it knows exists:
// the API server sends what it holds at once, so a pause this long means it has no more.
const replayIdle = time.Second

// replayLimit is how long a replay waits for history it knows exists (a change the watch's own
// store shows, or until itself) before it says the API server did not send it.
const replayLimit = 30 * time.Second

// replayReopen is how long a replay waits before it opens again a watch that closed with
// nothing.
const replayReopen = 200 * time.Millisecond

// IncompleteError says a replay did not read its history to the end within replayLimit: the API
// server's stream stopped short (a slow or overloaded server, a watch closed early) of a change
// the watch's store shows. The events up to Reached were read; what lies between Reached and
// Until is unknown.
type IncompleteError struct {
	Key                  Key
	From, Reached, Until uint64
	Waited               time.Duration
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("replaying %s from %d: the API server sent the changes up to %d only, not to %d, within %s",
		e.Key, e.From, e.Reached, e.Until, e.Waited)
}

// Replay returns the changes of key's resource after resourceVersion from, up to until, in the
// order the API server made them, as Added, Updated and Deleted events (never Initial). It reads
// a watch that starts at from, and stops at the first event or bookmark at or past until, or when
// the watch has been quiet for a second after the newest change at or below until that key's
// store shows: a quiet pause before that is a slow server, not the end. A watch that closes
// early is opened again where it stopped. It fails with a *CompactedError (ErrCompacted) when
// that history is gone, and with the events it read and an *IncompleteError when the API server
// did not send the rest within replayLimit.
func (w *Watches) Replay(ctx context.Context, key Key, from, until uint64) ([]Event, error) {
	floor := w.newestStored(key, from, until)
	limited, cancel := context.WithTimeout(ctx, w.replayLimit)
	defer cancel()
	started := time.Now()
	var out []Event
	reached := from
	for {
		events, at, done, err := w.replayStream(limited, key, reached, until, floor)
		out, reached = append(out, events...), max(reached, at)
		switch {
		case done:
			return out, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case limited.Err() != nil:
			return out, &IncompleteError{Key: key, From: from, Reached: reached, Until: until, Waited: time.Since(started).Round(time.Second)}
		case err != nil:
			var gap *CompactedError
			if errors.As(err, &gap) {
				gap.From = from // the history since from is what is gone, not only since reached
			}
			return nil, err
		}
		// The watch closed before the history's end: read on from where it stopped, a little
		// later when it had nothing to say.
		if len(events) == 0 {
			select {
			case <-limited.Done():
			case <-time.After(replayReopen):
			}
		}
	}
}

// replayStream reads one watch of key from resourceVersion from: the events it delivered, the
// resourceVersion it reached, and whether that is the history's end (an event or bookmark at or
// past until, or a quiet second once past floor).
func (w *Watches) replayStream(ctx context.Context, key Key, from, until, floor uint64) ([]Event, uint64, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wi, err := w.client.Resource(key.Resource).Namespace(key.Namespace).Watch(ctx, metav1.ListOptions{
		ResourceVersion: strconv.FormatUint(from, 10), AllowWatchBookmarks: true,
	})
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		return nil, from, false, compacted(key, from, err)
	}
	if err != nil {
		return nil, from, false, fmt.Errorf("replaying %s from %d: %w", key, from, err)
	}
	defer wi.Stop()
	var out []Event
	reached := from
	idle := time.NewTimer(replayIdle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return out, reached, false, nil
		case <-idle.C:
			if reached >= floor {
				return out, reached, true, nil
			}
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return out, reached, false, nil
			}
			if ev.Type == apiwatch.Error {
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return nil, reached, false, compacted(key, from, err)
				}
				return nil, reached, false, fmt.Errorf("replaying %s from %d: %w", key, from, err)
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			rv, _ := ParseVersion(u.GetResourceVersion())
			reached = max(reached, rv)
			if ev.Type != apiwatch.Bookmark {
				out = append(out, Event{Key: key, Type: eventType(ev.Type), Object: w.keep(u)})
			}
			if rv >= until {
				return out, reached, true, nil
			}
			idle.Reset(replayIdle)
		}
	}
}

// newestStored is the newest resourceVersion after from and at or below until among the
// objects key's watch holds: the history up to until holds that change, so a replay has not
// ended before it reads it. from when key is not watched or holds none.
func (w *Watches) newestStored(key Key, from, until uint64) uint64 {
	objects, _ := w.List(key)
	floor := from
	for _, o := range objects {
		if rv, ok := ParseVersion(o.GetResourceVersion()); ok && rv <= until {
			floor = max(floor, rv)
		}
	}
	return floor
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
