package watch

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// Object is one state of a watched object, as the watch keeps it: its identity, and the rest as
// JSON. A small ConfigMap decoded is about 1.9 KB of maps and strings, its JSON about 0.4 KB, and
// the watch caches are most of the operator's memory. Events, the lists and everything that
// queues them share one Object per state; Decode returns the whole object, a fresh copy each
// time, which the caller owns.
type Object struct {
	namespace, name, resourceVersion string
	uid                              types.UID
	data                             []byte
	// whole is set instead of data for an object that could not be encoded (none the API
	// server sends): kept as it is rather than lost.
	whole *unstructured.Unstructured
}

// NewObject keeps u as a watch does. u is not used afterwards.
func NewObject(u *unstructured.Unstructured) *Object {
	o := &Object{namespace: u.GetNamespace(), name: u.GetName(), resourceVersion: u.GetResourceVersion(), uid: u.GetUID()}
	data, err := json.Marshal(u.Object)
	if err != nil {
		o.whole = u
		return o
	}
	o.data = data
	return o
}

func (o *Object) GetNamespace() string       { return o.namespace }
func (o *Object) GetName() string            { return o.name }
func (o *Object) GetResourceVersion() string { return o.resourceVersion }
func (o *Object) GetUID() types.UID          { return o.uid }

// GetObjectMeta is the identity the informer keys its store by (meta.Accessor).
func (o *Object) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Namespace: o.namespace, Name: o.name, ResourceVersion: o.resourceVersion, UID: o.uid}
}

// Decode returns the whole object, a copy the caller may change.
func (o *Object) Decode() (*unstructured.Unstructured, error) {
	if o.whole != nil {
		return o.whole.DeepCopy(), nil
	}
	var m map[string]any
	// util/json reads integers as int64, as the dynamic client's decoder does.
	if err := utiljson.Unmarshal(o.data, &m); err != nil {
		return nil, fmt.Errorf("decoding the watched object %s: %w", o, err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// String names the object as namespace/name, or name when it is cluster-scoped.
func (o *Object) String() string {
	if o.namespace == "" {
		return o.name
	}
	return o.namespace + "/" + o.name
}
