package capture

import (
	"context"
	"github.com/go-logr/logr"
	"maps"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

var namespacesResource = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

const namespacesSubscriber = "pipeline/namespace-labels"

// namespaces knows the labels of every namespace, for rules with a namespaceSelector. It watches
// namespaces from the first time a rule needs it.
type namespaces struct {
	watches   *watch.Watches
	onChanged func()
	log       logr.Logger

	mu         sync.Mutex
	subscribed bool
	labels     map[string]map[string]string
}

func newNamespaces(w *watch.Watches, onChanged func(), log logr.Logger) *namespaces {
	return &namespaces{watches: w, onChanged: onChanged, log: log, labels: map[string]map[string]string{}}
}

// need starts watching namespaces, once.
func (n *namespaces) need(ctx context.Context) error {
	n.mu.Lock()
	if n.subscribed {
		n.mu.Unlock()
		return nil
	}
	n.subscribed = true
	n.mu.Unlock()
	return n.watches.Subscribe(ctx, watch.Key{Resource: namespacesResource}, namespacesSubscriber, n.handle)
}

// synced reports whether the labels of every namespace are known.
func (n *namespaces) synced() bool {
	return n.watches.Synced(watch.Key{Resource: namespacesResource}, namespacesSubscriber)
}

func (n *namespaces) handle(e watch.Event) {
	if e.Object == nil {
		return
	}
	name := e.Object.GetName()
	var labels map[string]string
	if e.Type != watch.Deleted {
		obj, err := e.Object.Decode()
		if err != nil {
			// Never happens to what the watch encoded; unknown labels select nothing.
			n.log.Error(err, "Cannot read the labels of a namespace", "namespace", name)
		} else {
			labels = obj.GetLabels()
		}
	}
	n.mu.Lock()
	before, known := n.labels[name]
	if e.Type == watch.Deleted {
		delete(n.labels, name)
	} else {
		n.labels[name] = labels
	}
	// Objects of a namespace are selected or not as their own events come; a namespace whose
	// labels change moves all its objects at once, which takes a reconcile.
	changed := e.Type == watch.Updated && known && !maps.Equal(before, labels)
	n.mu.Unlock()
	if changed {
		n.onChanged()
	}
}

// of returns the labels of namespace ns.
func (n *namespaces) of(ns string) map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.labels[ns]
}

func (n *namespaces) stop() {
	n.mu.Lock()
	subscribed := n.subscribed
	n.subscribed = false
	n.mu.Unlock()
	if subscribed {
		n.watches.Unsubscribe(watch.Key{Resource: namespacesResource}, namespacesSubscriber)
	}
}
