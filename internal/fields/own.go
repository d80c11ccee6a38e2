package fields

import (
	"fmt"
	"reflect"
	"sort"
)

// Direction is where a field's truth is.
type Direction string

const (
	// Unclaimed fields are ignored in both directions.
	Unclaimed Direction = ""
	// ToGit fields are written from the cluster to Git.
	ToGit Direction = "git"
	// ToKubernetes fields are applied from Git to the cluster.
	ToKubernetes Direction = "kubernetes"
)

// Rule is one rule that selects the object: its direction and filters (none: every field left).
type Rule struct {
	Direction Direction
	Filters   []Pointer
	// Origin names the rule in messages, such as "WatchRule team/app rules[1]".
	Origin string
}

// Claim is one filter in force for an object.
type Claim struct {
	Pointer   Pointer
	Direction Direction
	Origin    string
}

// Ownership is how one object's fields are split between the directions.
type Ownership struct {
	// Claims in the order that decides: the first that covers a field owns it.
	Claims []Claim
	// Rest is the direction of every field no claim covers: that of the first rule without
	// filters, or Unclaimed.
	Rest       Direction
	RestOrigin string
	// Except are fields that excluded writers own: never written to Git, whatever claims them.
	Except *Managed
}

// Own takes the rules that select an object, in order.
func Own(rules []Rule) Ownership {
	var o Ownership
	for _, r := range rules {
		if len(r.Filters) == 0 {
			o.Rest, o.RestOrigin = r.Direction, r.Origin
			break // every field is claimed now; later rules claim nothing
		}
		for _, p := range r.Filters {
			o.Claims = append(o.Claims, Claim{Pointer: p, Direction: r.Direction, Origin: r.Origin})
		}
	}
	return o
}

// Whole reports the direction of an object all of whose fields go one way.
func (o Ownership) Whole() (Direction, bool) {
	if o.Except != nil && !o.Except.Empty() && o.Has(ToGit) {
		return "", false
	}
	for _, c := range o.Claims {
		if c.Direction != o.Rest {
			return "", false
		}
	}
	return o.Rest, o.Rest != Unclaimed || len(o.Claims) == 0
}

// Has reports whether any field can go in direction d.
func (o Ownership) Has(d Direction) bool {
	if o.Rest == d {
		return true
	}
	for _, c := range o.Claims {
		if c.Direction == d {
			return true
		}
	}
	return false
}

// Of is the direction of the field at p.
func (o Ownership) Of(p Path) Direction {
	d := o.Rest
	for _, c := range o.Claims {
		if c.Pointer.Covers(p) {
			d = c.Direction
			break
		}
	}
	if d == ToGit && o.Except != nil && o.Except.Owns(p) {
		return Unclaimed
	}
	return d
}

// Shadowed lists, for a rule set, the filters that an earlier rule's filter of the other direction
// covers in part or whole: the later claim loses there, which is rarely what its author meant.
func Shadowed(rules []Rule) []string {
	return ShadowedAcross(rules, func(origin string) string { return origin })
}

// ShadowedAcross is Shadowed limited to pairs of rules whose owners (as owner names them from
// their origins) differ.
func ShadowedAcross(rules []Rule, owner func(origin string) string) []string {
	var out []string
	var earlier []Claim
	for _, r := range rules {
		for _, p := range r.Filters {
			for _, c := range earlier {
				if c.Direction != r.Direction && owner(c.Origin) != owner(r.Origin) && c.Pointer.Overlaps(p) {
					out = append(out, fmt.Sprintf("filter %s of %s (syncTo: %s) overlaps filter %s of %s (syncTo: %s), which comes first and wins where they meet",
						p, r.Origin, r.Direction, c.Pointer, c.Origin, c.Direction))
				}
			}
		}
		if len(r.Filters) == 0 {
			break
		}
		for _, p := range r.Filters {
			earlier = append(earlier, Claim{Pointer: p, Direction: r.Direction, Origin: r.Origin})
		}
	}
	return out
}

// Pick is the fields of obj that go in direction d.
func (o Ownership) Pick(w Walker, obj map[string]any, d Direction) []Leaf {
	var out []Leaf
	for _, l := range w.Leaves(obj) {
		if o.Of(l.Path) == d {
			out = append(out, l)
		}
	}
	sortLeaves(out)
	return out
}

// Changed lists the fields of direction d whose value differs between a and b, or that only one
// of them has, sorted by path.
func (o Ownership) Changed(w Walker, a, b map[string]any, d Direction) []Path {
	seen := map[string]bool{}
	var out []Path
	for _, l := range o.Pick(w, a, d) {
		seen[l.Path.String()] = true
		if v, ok := Get(b, l.Path); !ok || !Same(v, l.Value) {
			out = append(out, l.Path)
		}
	}
	for _, l := range o.Pick(w, b, d) {
		if seen[l.Path.String()] {
			continue
		}
		if v, ok := Get(a, l.Path); !ok || !Same(v, l.Value) {
			out = append(out, l.Path)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func sortLeaves(ls []Leaf) {
	sort.Slice(ls, func(i, j int) bool { return ls[i].Path.String() < ls[j].Path.String() })
}

// Same compares two values of decoded JSON or YAML, numbers by value whatever their Go type.
func Same(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			if w, ok := bm[k]; !ok || !Same(v, w) {
				return false
			}
		}
		return true
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !Same(a[i], bl[i]) {
				return false
			}
		}
		return true
	}
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
