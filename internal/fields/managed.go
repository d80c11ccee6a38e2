package fields

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Managed is the fields one manager owns, as an object's managedFields record them (FieldsV1).
type Managed struct {
	tree map[string]any
}

// ManagedBy returns what manager owns through operation in the entries, merged.
func ManagedBy(entries []metav1.ManagedFieldsEntry, manager string, operation metav1.ManagedFieldsOperationType) (Managed, error) {
	return managedWhere(entries, func(e metav1.ManagedFieldsEntry) bool { return e.Manager == manager && e.Operation == operation })
}

// Empty reports whether nothing is owned.
func (m Managed) Empty() bool { return len(m.tree) == 0 }

// ManagedByAny returns what the given managers own (any operation), merged.
func ManagedByAny(entries []metav1.ManagedFieldsEntry, managers []string) (Managed, error) {
	return managedWhere(entries, func(e metav1.ManagedFieldsEntry) bool { return slices.Contains(managers, e.Manager) })
}

// ManagedByOthers returns what every manager but the given one owns (any operation), merged.
func ManagedByOthers(entries []metav1.ManagedFieldsEntry, manager string) (Managed, error) {
	return managedWhere(entries, func(e metav1.ManagedFieldsEntry) bool { return e.Manager != manager })
}

// managedWhere merges the fields of the entries of the main resource (not a subresource) that
// match.
func managedWhere(entries []metav1.ManagedFieldsEntry, match func(metav1.ManagedFieldsEntry) bool) (Managed, error) {
	m := Managed{tree: map[string]any{}}
	for _, e := range entries {
		if !match(e) || e.FieldsV1 == nil || e.Subresource != "" {
			continue
		}
		var t map[string]any
		if err := json.Unmarshal(e.FieldsV1.Raw, &t); err != nil {
			return Managed{}, fmt.Errorf("reading the managed fields of %s: %w", e.Manager, err)
		}
		merge(m.tree, t)
	}
	return m, nil
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		sv, _ := v.(map[string]any)
		dv, ok := dst[k].(map[string]any)
		if !ok {
			dst[k] = sv
			continue
		}
		merge(dv, sv)
	}
}

// Owns reports whether the field at p, or a whole map or list containing it, is owned.
func (m Managed) Owns(p Path) bool {
	cur := m.tree
	if len(cur) == 0 {
		return false
	}
	for _, e := range p {
		next, ok := step(cur, e)
		if !ok {
			return false
		}
		if len(next) == 0 {
			return true // a field owned as a whole: everything below it
		}
		cur = next
	}
	_, self := cur["."]
	return self || len(cur) > 0
}

func step(cur map[string]any, e Element) (map[string]any, bool) {
	switch {
	case e.KeyField != "":
		for k, v := range cur {
			raw, ok := strings.CutPrefix(k, "k:")
			if !ok {
				continue
			}
			var key map[string]any
			if json.Unmarshal([]byte(raw), &key) != nil {
				continue
			}
			if kv, ok := keyValue(key, e.KeyField); ok && kv == e.Key {
				next, _ := v.(map[string]any)
				return nonNil(next), true
			}
		}
		return nil, false
	case e.Index >= 0:
		v, ok := cur[fmt.Sprintf("i:%d", e.Index)]
		next, _ := v.(map[string]any)
		return nonNil(next), ok
	default:
		v, ok := cur["f:"+e.Field]
		next, _ := v.(map[string]any)
		return nonNil(next), ok
	}
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
