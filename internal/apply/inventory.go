package apply

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// ObjectID names an object across versions: namespace, name, group and kind, as Flux's inventory
// does (`<namespace>_<name>_<group>_<kind>`).
type ObjectID struct {
	Namespace, Name, Group, Kind string
}

// IDOf is the ID of obj.
func IDOf(obj *unstructured.Unstructured) ObjectID {
	gvk := obj.GroupVersionKind()
	return ObjectID{Namespace: obj.GetNamespace(), Name: obj.GetName(), Group: gvk.Group, Kind: gvk.Kind}
}

func (id ObjectID) String() string {
	return strings.Join([]string{id.Namespace, id.Name, id.Group, id.Kind}, "_")
}

// Describe names the object for people: `ConfigMap default/web`.
func (id ObjectID) Describe() string {
	kind := id.Kind
	if id.Group != "" {
		kind += "." + id.Group
	}
	if id.Namespace == "" {
		return kind + " " + id.Name
	}
	return kind + " " + id.Namespace + "/" + id.Name
}

// parseID reads an inventory ID. Names and namespaces cannot hold "_"; a group can't either.
func parseID(s string) (ObjectID, error) {
	parts := strings.Split(s, "_")
	if len(parts) != 4 || parts[1] == "" || parts[3] == "" {
		return ObjectID{}, fmt.Errorf("inventory entry %q is not <namespace>_<name>_<group>_<kind>", s)
	}
	return ObjectID{Namespace: parts[0], Name: parts[1], Group: parts[2], Kind: parts[3]}, nil
}

// Inventory is the set of objects a target applied, with the version each was applied in.
type Inventory map[ObjectID]string

// InventoryOf reads the inventory a GitTarget's status holds; entries that do not parse are
// returned as errors and left out (they name nothing we could delete).
func InventoryOf(refs []configv1alpha1.ResourceRef) (Inventory, []error) {
	inv := Inventory{}
	var errs []error
	for _, r := range refs {
		id, err := parseID(r.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		inv[id] = r.Version
	}
	return inv, errs
}

// Refs is the inventory as the status holds it, sorted by ID.
func (inv Inventory) Refs() []configv1alpha1.ResourceRef {
	out := make([]configv1alpha1.ResourceRef, 0, len(inv))
	for id, v := range inv {
		out = append(out, configv1alpha1.ResourceRef{ID: id.String(), Version: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Without returns the objects of inv that are not in other: what is no longer in Git.
func (inv Inventory) Without(other Inventory) Inventory {
	out := Inventory{}
	for id, v := range inv {
		if _, ok := other[id]; !ok {
			out[id] = v
		}
	}
	return out
}

// GroupVersionKind of an entry.
func (inv Inventory) GroupVersionKind(id ObjectID) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: id.Group, Version: inv[id], Kind: id.Kind}
}
