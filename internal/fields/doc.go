// Package fields owns field-level direction: which fields of one object flow cluster → Git and
// which Git → cluster, as both directions compute it.
//
// A rule's filters are JSON pointers (RFC 6901) such as /metadata/annotations or
// /spec/template/spec/containers/*/image. For one object the rules that select it are taken in
// order: a rule with filters claims the fields under its pointers that no earlier rule claimed,
// and the first rule without filters claims every field left (later rules claim nothing). A field
// no rule claims is ignored in both directions.
//
// Fields are addressed as Paths, whose list elements are identified the way server-side apply's
// managedFields identify them: an element of a list with a merge key (containers by name,
// volumeMounts by mountPath) by that key's value, so that reordering a list moves no ownership;
// other lists of objects by index; lists of scalars are one field. In a pointer, `*` matches every
// element of a list (and every key of a map), and a segment naming a keyed list's element is its
// key's value: /spec/template/spec/containers/app/image. Paths print the same way, which is how
// commits name the fields they change (Kubernetes-Fields).
package fields
