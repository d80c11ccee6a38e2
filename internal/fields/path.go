package fields

import (
	"fmt"
	"strconv"
	"strings"
)

// Element is one step of a Path: a map key, a keyed list element, or a list index.
type Element struct {
	// Field is the map key; empty for list elements.
	Field string
	// KeyField and Key identify a keyed list element: the element whose KeyField is Key.
	KeyField, Key string
	// Index of an element of a list without a merge key; -1 otherwise.
	Index int
}

// FieldElement is the map key name.
func FieldElement(name string) Element { return Element{Field: name, Index: -1} }

// KeyElement is the element of a keyed list whose field is value.
func KeyElement(field, value string) Element { return Element{KeyField: field, Key: value, Index: -1} }

// IndexElement is the i-th element of a list without a merge key.
func IndexElement(i int) Element { return Element{Index: i} }

func (e Element) segment() string {
	switch {
	case e.KeyField != "":
		return e.Key
	case e.Index >= 0:
		return strconv.Itoa(e.Index)
	default:
		return e.Field
	}
}

// Path is the location of one field in an object.
type Path []Element

// String prints the path as a pointer, keyed list elements by their key's value.
func (p Path) String() string {
	var b strings.Builder
	for _, e := range p {
		b.WriteByte('/')
		b.WriteString(escape(e.segment()))
	}
	return b.String()
}

// Append returns p followed by e, never sharing p's backing array.
func (p Path) Append(e Element) Path {
	out := make(Path, len(p), len(p)+1)
	copy(out, p)
	return append(out, e)
}

// HasPrefix reports whether q is p or an ancestor of p.
func (p Path) HasPrefix(q Path) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// Pointer is a compiled filter.
type Pointer struct {
	raw      string
	segments []string
}

// ParsePointer compiles a filter: a JSON pointer whose segments may be `*`.
func ParsePointer(s string) (Pointer, error) {
	if s == "" || s[0] != '/' {
		return Pointer{}, fmt.Errorf("filter %q is not a JSON pointer (it must start with /)", s)
	}
	parts := strings.Split(s[1:], "/")
	p := Pointer{raw: s, segments: make([]string, len(parts))}
	for i, part := range parts {
		seg, err := unescape(part)
		if err != nil {
			return Pointer{}, fmt.Errorf("filter %q: %w", s, err)
		}
		if seg == "" {
			return Pointer{}, fmt.Errorf("filter %q has an empty segment", s)
		}
		p.segments[i] = seg
	}
	return p, nil
}

func (p Pointer) String() string { return p.raw }

// Covers reports whether the pointer claims path: it matches path or one of its ancestors.
func (p Pointer) Covers(path Path) bool {
	if len(p.segments) > len(path) {
		return false
	}
	for i, seg := range p.segments {
		if seg != "*" && seg != path[i].segment() {
			return false
		}
	}
	return true
}

// Reaches reports whether the pointer claims path or something below it.
func (p Pointer) Reaches(path Path) bool {
	n := min(len(p.segments), len(path))
	for i := range n {
		if seg := p.segments[i]; seg != "*" && seg != path[i].segment() {
			return false
		}
	}
	return true
}

// Overlaps reports whether some field could be claimed by both pointers.
func (p Pointer) Overlaps(q Pointer) bool {
	n := min(len(p.segments), len(q.segments))
	for i := range n {
		a, b := p.segments[i], q.segments[i]
		if a != "*" && b != "*" && a != b {
			return false
		}
	}
	return true
}

func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, "~") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '~' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) || (s[i+1] != '0' && s[i+1] != '1') {
			return "", fmt.Errorf("~ must be followed by 0 or 1")
		}
		if s[i+1] == '0' {
			b.WriteByte('~')
		} else {
			b.WriteByte('/')
		}
		i++
	}
	return b.String(), nil
}
