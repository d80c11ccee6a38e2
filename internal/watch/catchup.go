package watch

import (
	"context"
	"errors"
	"time"
)

// A re-list (the informer's watch expired with 410, as every API server restart makes it do)
// tells the informer only the state at the list: several changes of one object between the old
// watch and the list reach its handlers as one Updated event, and each change's own commit would
// be lost. So while a re-list settles, a subscriber's events wait; the history since the old
// watch's last resourceVersion is read from the API server's watch cache (Replay) and delivered
// in their place, change by change, and only the events the history does not hold go on as the
// informer gave them, marked Coalesced. Relisted follows when part of the history was gone.

// objectRef names an object within one watch.
type objectRef struct{ namespace, name string }

func refOf(u *Object) objectRef {
	return objectRef{namespace: u.GetNamespace(), name: u.GetName()}
}

// held is an informer event that waits while a re-list's history is read.
type held struct {
	e         Event
	rv        uint64
	tombstone bool // a delete the re-list inferred: the object is missing from the new list
}

// history is what a catch-up read: the changes after oldest up to until (oldest is from, unless
// the API server no longer held the changes between from and oldest), or why it could not.
type history struct {
	from, oldest, until uint64
	events              []Event
	err                 error
}

// receive delivers an informer event to the subscriber, or holds it while a catch-up runs.
func (sub *subscriber) receive(e Event, tombstone bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	rv, _ := ParseVersion(e.Object.GetResourceVersion())
	if sub.waiting != nil && !e.Initial {
		sub.waiting = append(sub.waiting, held{e: e, rv: rv, tombstone: tombstone})
		return
	}
	// Late list events of a catch-up already delivered from the history.
	if last, ok := sub.covered[refOf(e.Object)]; ok && !e.Initial && (tombstone || rv <= last) {
		return
	}
	sub.handler(e)
}

func (sub *subscriber) hold() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.waiting == nil {
		sub.waiting = []held{}
	}
}

// release delivers what waited, with the history in the place of the events it holds: first the
// old watch's own events, then what changed in a gap of the history (Coalesced), then the
// history, then what came after it.
func (sub *subscriber) release(key Key, h history) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	waiting := sub.waiting
	sub.waiting = nil
	sub.covered = nil
	if h.err != nil {
		for _, p := range waiting {
			p.e.Coalesced = p.tombstone || p.rv > h.from
			sub.handler(p.e)
		}
		sub.handler(Event{Key: key, Type: Relisted})
		return
	}
	sub.covered = map[objectRef]uint64{}
	for _, e := range h.events {
		rv, _ := ParseVersion(e.Object.GetResourceVersion())
		ref := refOf(e.Object)
		sub.covered[ref] = max(sub.covered[ref], rv)
	}
	var before, gap, after []Event
	for _, p := range waiting {
		last, inHistory := sub.covered[refOf(p.e.Object)]
		switch {
		case p.tombstone && inHistory:
			// The history has the object's delete (or its deletes and creates).
		case p.tombstone:
			p.e.Coalesced = h.oldest > h.from // deleted in the gap; or before it, when there is none
			gap = append(gap, p.e)
		case p.rv <= h.from:
			before = append(before, p.e)
		case inHistory && p.rv <= last:
			// The history holds this change, and every one before it.
		case p.rv <= h.oldest:
			p.e.Coalesced = true
			gap = append(gap, p.e)
		default:
			after = append(after, p.e)
		}
	}
	for _, list := range [][]Event{before, gap, h.events, after} {
		for _, e := range list {
			sub.handler(e)
		}
	}
	if h.oldest > h.from {
		sub.handler(Event{Key: key, Type: Relisted})
	}
}

// catchUp runs after a re-list of key began: it holds every subscriber's events, reads the
// history since from once the informer had relistSettle to apply the list, and releases them.
// A re-list that begins meanwhile makes it read again, to the newer end.
func (w *Watches) catchUp(ctx context.Context, key Key, s *shared, from uint64) {
	for {
		round := s.relists.Load()
		select {
		case <-ctx.Done():
			return
		case <-time.After(relistSettle):
		}
		h := w.readHistory(ctx, key, from)
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		if s.relists.Load() != round {
			w.mu.Unlock()
			continue
		}
		s.catchingUp = false
		subs := make([]*subscriber, 0, len(s.subscribers))
		for _, sub := range s.subscribers {
			subs = append(subs, sub)
		}
		w.mu.Unlock()
		if h.err != nil {
			w.log.Info("Watch listed again and the changes in between could not be read; subscribers reconcile",
				"resource", key.String(), "since", from, "reason", h.err.Error())
		} else {
			w.log.Info("Watch listed again; delivered the changes in between one by one", "resource", key.String(),
				"since", from, "changes", len(h.events), "historyFrom", h.oldest)
		}
		for _, sub := range subs {
			sub.release(key, h)
		}
		return
	}
}

func (w *Watches) readHistory(ctx context.Context, key Key, from uint64) history {
	h := history{from: from, oldest: from}
	if from == 0 {
		h.err = errors.New("the old watch had no resourceVersion")
		return h
	}
	if h.until, h.err = w.Current(ctx, key); h.err != nil {
		return h
	}
	h.events, h.err = w.Replay(ctx, key, from, h.until)
	var gap *CompactedError
	if errors.As(h.err, &gap) && gap.Oldest > from {
		h.oldest = gap.Oldest
		h.events, h.err = w.Replay(ctx, key, gap.Oldest, h.until)
	}
	return h
}
