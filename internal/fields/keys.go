package fields

import (
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// Step is one map key on the way to a list, and whether its value is a list whose elements the
// way goes on into.
type Step struct {
	Field string
	List  bool
}

// ListKeys says which field identifies the elements of a list.
type ListKeys interface {
	// Key is the merge key of the list reached by steps (the last step is the list) in objects of
	// kind gvk, and whether the kind's schema is known; "" with true means the list has none.
	Key(gvk schema.GroupVersionKind, steps []Step) (key string, known bool)
}

// SchemeKeys reads the merge keys of the scheme's Go types (their patchMergeKey tags, as
// strategic merge patch does), for the built-in kinds.
func SchemeKeys(scheme *runtime.Scheme) ListKeys {
	return &schemeKeys{scheme: scheme, cache: map[string]schemeAnswer{}}
}

type schemeAnswer struct {
	key   string
	known bool
}

type schemeKeys struct {
	scheme *runtime.Scheme
	mu     sync.Mutex
	cache  map[string]schemeAnswer
}

func (s *schemeKeys) Key(gvk schema.GroupVersionKind, steps []Step) (string, bool) {
	if len(steps) == 0 || !s.scheme.Recognizes(gvk) {
		return "", false
	}
	var b strings.Builder
	b.WriteString(gvk.String())
	for _, st := range steps {
		b.WriteByte('/')
		b.WriteString(st.Field)
	}
	id := b.String()
	s.mu.Lock()
	a, ok := s.cache[id]
	s.mu.Unlock()
	if ok {
		return a.key, a.known
	}
	a = s.lookup(gvk, steps)
	s.mu.Lock()
	s.cache[id] = a
	s.mu.Unlock()
	return a.key, a.known
}

func (s *schemeKeys) lookup(gvk schema.GroupVersionKind, steps []Step) schemeAnswer {
	obj, err := s.scheme.New(gvk)
	if err != nil {
		return schemeAnswer{}
	}
	meta, err := strategicpatch.NewPatchMetaFromStruct(obj)
	if err != nil {
		return schemeAnswer{}
	}
	var cur strategicpatch.LookupPatchMeta = meta
	for i, st := range steps {
		last := i == len(steps)-1
		if st.List || last {
			next, pm, err := cur.LookupPatchMetadataForSlice(st.Field)
			if err != nil {
				return schemeAnswer{}
			}
			if last {
				return schemeAnswer{key: pm.GetPatchMergeKey(), known: true}
			}
			cur = next
			continue
		}
		next, _, err := cur.LookupPatchMetadataForStruct(st.Field)
		if err != nil {
			return schemeAnswer{}
		}
		cur = next
	}
	return schemeAnswer{}
}
