package fields

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Leaf is one field of an object and its value: a scalar, a list of scalars, or an empty map or
// list.
type Leaf struct {
	Path  Path
	Value any
}

// Walker finds the fields of objects of one kind.
type Walker struct {
	GVK  schema.GroupVersionKind
	Keys ListKeys // nil: only the name heuristic
}

// keyOf is the merge key of a list: the schema's, or, for kinds it does not know, `name` when
// every element is an object with a string name (what list-map-keys almost always are).
func (w Walker) keyOf(steps []Step, list []any) string {
	if w.Keys != nil {
		if key, known := w.Keys.Key(w.GVK, steps); known {
			return key
		}
	}
	if len(list) == 0 {
		return ""
	}
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			return ""
		}
		if _, ok := m["name"].(string); !ok {
			return ""
		}
	}
	return "name"
}

// keyValue is an element's key as text, as paths print it.
func keyValue(el map[string]any, key string) (string, bool) {
	v, ok := el[key]
	if !ok || v == nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case map[string]any, []any:
		return "", false
	default:
		return fmt.Sprint(v), true
	}
}

// Leaves lists every field of obj.
func (w Walker) Leaves(obj map[string]any) []Leaf {
	var out []Leaf
	w.walkMap(obj, nil, nil, &out)
	return out
}

func (w Walker) walkMap(m map[string]any, path Path, steps []Step, out *[]Leaf) {
	if len(m) == 0 && len(path) > 0 {
		*out = append(*out, Leaf{Path: path, Value: map[string]any{}})
		return
	}
	for k, v := range m {
		w.walkValue(v, path.Append(FieldElement(k)), append(steps[:len(steps):len(steps)], Step{Field: k}), out)
	}
}

func (w Walker) walkValue(v any, path Path, steps []Step, out *[]Leaf) {
	switch v := v.(type) {
	case map[string]any:
		w.walkMap(v, path, steps, out)
	case []any:
		if len(v) == 0 {
			*out = append(*out, Leaf{Path: path, Value: []any{}})
			return
		}
		listSteps := append(steps[:len(steps)-1:len(steps)-1], Step{Field: steps[len(steps)-1].Field, List: true})
		key := w.keyOf(listSteps, v)
		if key == "" {
			if _, objects := v[0].(map[string]any); !objects {
				*out = append(*out, Leaf{Path: path, Value: v}) // a list of scalars is one field
				return
			}
			for i, el := range v {
				w.walkValue(el, path.Append(IndexElement(i)), listSteps, out)
			}
			return
		}
		for i, el := range v {
			m, isMap := el.(map[string]any)
			kv, ok := keyValue(m, key)
			if !isMap || !ok { // an element without its key: by index, so that it is still seen
				w.walkValue(el, path.Append(IndexElement(i)), listSteps, out)
				continue
			}
			w.walkMap(m, path.Append(KeyElement(key, kv)), listSteps, out)
		}
	default:
		*out = append(*out, Leaf{Path: path, Value: v})
	}
}

// Get returns the value at path.
func Get(obj map[string]any, path Path) (any, bool) {
	var cur any = obj
	for _, e := range path {
		next, ok := child(cur, e)
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

func child(cur any, e Element) (any, bool) {
	switch {
	case e.KeyField != "":
		list, ok := cur.([]any)
		if !ok {
			return nil, false
		}
		for _, el := range list {
			if m, ok := el.(map[string]any); ok {
				if kv, ok := keyValue(m, e.KeyField); ok && kv == e.Key {
					return m, true
				}
			}
		}
		return nil, false
	case e.Index >= 0:
		list, ok := cur.([]any)
		if !ok || e.Index >= len(list) {
			return nil, false
		}
		return list[e.Index], true
	default:
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := m[e.Field]
		return v, ok
	}
}

// Set puts value at path, creating the maps and keyed list elements on the way. It fails where
// the object has something else on the way (a scalar where a map is needed, a missing index).
func Set(obj map[string]any, path Path, value any) error {
	if len(path) == 0 {
		return fmt.Errorf("cannot set the whole object")
	}
	parent, err := ensure(obj, path[:len(path)-1])
	if err != nil {
		return err
	}
	last := path[len(path)-1]
	switch c := parent.(type) {
	case map[string]any:
		if last.Field == "" {
			return fmt.Errorf("%s: a map has no list elements", path)
		}
		c[last.Field] = value
		return nil
	default:
		return fmt.Errorf("%s: cannot set a list element as a whole", path)
	}
}

// ensure walks to path, creating missing maps and keyed list elements, and returns what is there.
func ensure(obj map[string]any, path Path) (any, error) {
	var cur any = obj
	for i, e := range path {
		next, ok := child(cur, e)
		if ok {
			cur = next
			continue
		}
		m, isMap := cur.(map[string]any)
		switch {
		case e.Field != "" && isMap:
			if i+1 < len(path) && path[i+1].Field == "" {
				m[e.Field] = []any{}
			} else {
				m[e.Field] = map[string]any{}
			}
			cur = m[e.Field]
		case e.KeyField != "":
			list, ok := cur.([]any)
			if !ok {
				return nil, fmt.Errorf("%s is not a list", path[:i])
			}
			el := map[string]any{e.KeyField: e.Key}
			if err := setInParent(obj, path[:i], append(list, el)); err != nil {
				return nil, err
			}
			cur = el
		default:
			return nil, fmt.Errorf("%s does not exist", path[:i+1])
		}
	}
	return cur, nil
}

// setInParent replaces the value at path (a list grown by append) in its parent.
func setInParent(obj map[string]any, path Path, value any) error {
	if len(path) == 0 {
		return fmt.Errorf("cannot replace the whole object")
	}
	parent, ok := Get(obj, path[:len(path)-1])
	if !ok {
		return fmt.Errorf("%s does not exist", path[:len(path)-1])
	}
	last := path[len(path)-1]
	switch c := parent.(type) {
	case map[string]any:
		c[last.Field] = value
	case []any:
		idx := -1
		if last.Index >= 0 {
			idx = last.Index
		} else {
			for i, el := range c {
				if m, ok := el.(map[string]any); ok {
					if kv, ok := keyValue(m, last.KeyField); ok && kv == last.Key {
						idx = i
					}
				}
			}
		}
		if idx < 0 || idx >= len(c) {
			return fmt.Errorf("%s does not exist", path)
		}
		c[idx] = value
	}
	return nil
}

// Remove deletes the field at path, and the maps that it leaves empty on the way up (not list
// elements, which keep their key, nor the object itself). It reports whether anything was there.
func Remove(obj map[string]any, path Path) bool {
	if len(path) == 0 {
		return false
	}
	parentPath, last := path[:len(path)-1], path[len(path)-1]
	parent, ok := Get(obj, parentPath)
	if !ok {
		return false
	}
	m, ok := parent.(map[string]any)
	if !ok || last.Field == "" {
		return false
	}
	if _, ok := m[last.Field]; !ok {
		return false
	}
	delete(m, last.Field)
	if len(m) == 0 && len(parentPath) > 0 && parentPath[len(parentPath)-1].Field != "" {
		Remove(obj, parentPath)
	}
	return true
}

// DeepCopyValue copies a decoded JSON value, so that two objects never share a map or list.
func DeepCopyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = DeepCopyValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = DeepCopyValue(x)
		}
		return out
	}
	return v
}
