package watch

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
)

// Key is one list+watch: a resource in one namespace, or in every namespace ("", which is also
// how cluster-scoped resources are watched).
type Key struct {
	Resource  schema.GroupVersionResource
	Namespace string
}

func (k Key) String() string {
	if k.Namespace == "" {
		return k.Resource.String()
	}
	return k.Resource.String() + " in " + k.Namespace
}

// EventType says what happened.
type EventType int

const (
	// Added: the object appeared, by a create or, with Initial set, in the first list.
	Added EventType = iota
	// Updated: the object changed. Resyncs that change nothing are not delivered.
	Updated
	// Deleted: the object is gone; Object is its last known state.
	Deleted
	// Relisted: the watch expired and the resource was listed again, and the API server no
	// longer held all the changes in between: the events before it that stand for them are
	// marked Coalesced, and subscribers reconcile (catchup.go).
	Relisted
)

// Event is one thing that happened to a watched resource.
type Event struct {
	Key    Key
	Type   EventType
	Object *Object // nil for Relisted
	// Initial is set on the Added events of the list a subscription starts with: the state
	// the resource had, not changes someone just made.
	Initial bool
	// Coalesced is set on an event that may stand for several changes whose history is gone:
	// the state a re-list found, or a delete it inferred.
	Coalesced bool
}

// Handler receives events in order, per object. It is called from the watch's goroutine and
// must hand work off rather than block.
type Handler func(Event)

// Watches runs the shared list+watches.
// Options configure Watches. The zero value works.
type Options struct {
	// Resync re-delivers every object this often (as Updated events only when it changed);
	// zero never.
	Resync time.Duration
	Log    logr.Logger
	// Transform replaces an object before it is stored and delivered, to keep less of it in
	// memory. It may change the object in place.
	Transform func(*unstructured.Unstructured) *unstructured.Unstructured
}

type Watches struct {
	client    dynamic.Interface
	resync    time.Duration
	log       logr.Logger
	transform func(*unstructured.Unstructured) *unstructured.Unstructured
	// replayLimit is replayLimit but in tests.
	replayLimit time.Duration

	mu      sync.Mutex
	watches map[Key]*shared
}

type shared struct {
	informer    cache.SharedIndexInformer
	ctx         context.Context
	cancel      context.CancelFunc
	done        chan struct{}
	subscribers map[string]*subscriber
	// relists counts the informer's lists after the first; catchingUp is set while their
	// history is read (catchup.go). Guarded by Watches.mu.
	relists    atomic.Int64
	catchingUp bool
}

type subscriber struct {
	handler      Handler
	registration cache.ResourceEventHandlerRegistration

	mu sync.Mutex
	// waiting holds the events that arrive while a re-list's history is read (non-nil then);
	// covered is, after it, the newest resourceVersion the history delivered per object, so
	// that late events of the list are not delivered after newer ones.
	waiting []held
	covered map[objectRef]uint64
}

// New creates Watches on client.
func New(client dynamic.Interface, opts Options) *Watches {
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	return &Watches{client: client, resync: opts.Resync, log: opts.Log, transform: opts.Transform, replayLimit: replayLimit, watches: map[Key]*shared{}}
}

// Subscribe makes handler receive key's events under id, starting the list+watch when it is
// the first subscriber. Subscribing an id twice replaces its handler.
func (w *Watches) Subscribe(ctx context.Context, key Key, id string, handler Handler) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.watches[key]
	if !ok {
		s = w.start(key)
		w.watches[key] = s
	}
	if old, ok := s.subscribers[id]; ok {
		_ = s.informer.RemoveEventHandler(old.registration)
	}
	sub := &subscriber{handler: handler}
	if s.catchingUp {
		sub.hold()
	}
	reg, err := s.informer.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) { deliver(key, Added, obj, initial, sub) },
		UpdateFunc: func(old, obj any) {
			if sameVersion(old, obj) {
				return // a resync: nothing changed
			}
			deliver(key, Updated, obj, false, sub)
		},
		DeleteFunc: func(obj any) { deliver(key, Deleted, obj, false, sub) },
	})
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", key, err)
	}
	sub.registration = reg
	s.subscribers[id] = sub
	return nil
}

// Synced reports whether id has received the initial list of key.
func (w *Watches) Synced(key Key, id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.watches[key]
	if !ok {
		return false
	}
	sub, ok := s.subscribers[id]
	return ok && sub.registration.HasSynced()
}

// Unsubscribe removes id from key; the last one out stops the list+watch.
func (w *Watches) Unsubscribe(key Key, id string) {
	w.mu.Lock()
	s, ok := w.watches[key]
	if !ok {
		w.mu.Unlock()
		return
	}
	if sub, ok := s.subscribers[id]; ok {
		_ = s.informer.RemoveEventHandler(sub.registration)
		delete(s.subscribers, id)
	}
	last := len(s.subscribers) == 0
	if last {
		delete(w.watches, key)
	}
	w.mu.Unlock()
	if last {
		s.cancel()
		<-s.done
		w.log.V(1).Info("Stopped watching", "resource", key.String())
	}
}

// Active lists the running list+watches.
func (w *Watches) Active() []Key {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := make([]Key, 0, len(w.watches))
	for k := range w.watches {
		keys = append(keys, k)
	}
	return keys
}

// Stop ends every list+watch.
func (w *Watches) Stop() {
	w.mu.Lock()
	all := w.watches
	w.watches = map[Key]*shared{}
	w.mu.Unlock()
	for _, s := range all {
		s.cancel()
		<-s.done
	}
}

func (w *Watches) start(key Key) *shared {
	s := &shared{done: make(chan struct{}), subscribers: map[string]*subscriber{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	informer := cache.NewSharedIndexInformerWithOptions(w.listWatch(key, s), &unstructured.Unstructured{},
		cache.SharedIndexInformerOptions{ResyncPeriod: w.resync, ObjectDescription: key.String()})
	// Every object is stored and delivered as an Object. The informer may pass one through again
	// (a re-list's tombstones): it is kept as it is.
	_ = informer.SetTransform(func(obj any) (any, error) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			return w.keep(u), nil
		}
		return obj, nil
	})
	s.informer = informer
	go func() {
		defer close(s.done)
		informer.RunWithContext(s.ctx)
	}()
	w.log.V(1).Info("Watching", "resource", key.String())
	return s
}

// listWatch lists and watches key's resource, and makes every list after the first a re-list
// (catchup.go): the reflector lists again when its watch expired (410), without telling anyone.
// With watch-list streaming, a (re-)list is a watch that asks for initial events.
func (w *Watches) listWatch(key Key, s *shared) cache.ListerWatcher {
	var lists atomic.Int64
	listed := func() {
		if lists.Add(1) > 1 {
			w.relisted(key, s)
		}
	}
	resource := w.client.Resource(key.Resource).Namespace(key.Namespace)
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, options metav1.ListOptions) (runtime.Object, error) {
			list, err := resource.List(ctx, options)
			if err == nil {
				listed()
			}
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (apiwatch.Interface, error) {
			wi, err := resource.Watch(ctx, options)
			if err == nil && options.SendInitialEvents != nil && *options.SendInitialEvents {
				listed()
			}
			return wi, err
		},
	}, w.client)
}

// relistSettle is how long after a re-list began its history is read: by then the informer
// applied the list and handed its events on.
const relistSettle = time.Second

// relisted holds every subscriber's events and starts a catch-up, unless one runs. It is called
// by the reflector before it applies the list, so the old watch's resourceVersion is still the
// informer's.
func (w *Watches) relisted(key Key, s *shared) {
	from, _ := ParseVersion(s.informer.LastSyncResourceVersion())
	w.mu.Lock()
	defer w.mu.Unlock()
	s.relists.Add(1)
	for _, sub := range s.subscribers {
		sub.hold()
	}
	if !s.catchingUp {
		s.catchingUp = true
		go w.catchUp(s.ctx, key, s, from)
	}
}

func deliver(key Key, t EventType, obj any, initial bool, sub *subscriber) {
	tomb, tombstone := obj.(cache.DeletedFinalStateUnknown)
	if tombstone {
		obj = tomb.Obj
	}
	o, ok := obj.(*Object)
	if !ok {
		return
	}
	sub.receive(Event{Key: key, Type: t, Object: o, Initial: initial}, tombstone)
}

// keep is what the watch keeps of u: its Object, after the configured transform.
func (w *Watches) keep(u *unstructured.Unstructured) *Object {
	if w.transform != nil {
		u = w.transform(u)
	}
	return NewObject(u)
}

func sameVersion(old, obj any) bool {
	a, ok1 := old.(*Object)
	b, ok2 := obj.(*Object)
	return ok1 && ok2 && a.GetResourceVersion() != "" && a.GetResourceVersion() == b.GetResourceVersion()
}

// List returns the objects the watch of key holds now, or false when key is not watched or
// has not finished its first list.
func (w *Watches) List(key Key) ([]*Object, bool) {
	w.mu.Lock()
	s, ok := w.watches[key]
	w.mu.Unlock()
	if !ok || !s.informer.HasSynced() {
		return nil, false
	}
	items := s.informer.GetStore().List()
	out := make([]*Object, 0, len(items))
	for _, item := range items {
		if o, ok := item.(*Object); ok {
			out = append(out, o)
		}
	}
	return out, true
}
