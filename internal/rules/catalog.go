package rules

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// APIResource is one resource in one version, as discovery describes it.
type APIResource struct {
	Group, Version, Resource, Kind string
	Namespaced                     bool
	// Preferred is true for the version the API server prefers for the group.
	Preferred bool
	// Watchable: the resource supports list and watch, so it can be followed.
	Watchable bool
}

// GroupVersionResource of the resource.
func (r APIResource) GroupVersionResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
}

// Catalog is every resource the API server serves, in every version.
type Catalog []APIResource

// NewCatalog builds a catalog from discovery's answer (ServerGroupsAndResources): every
// group/version it lists, with the preferred versions of groups marked.
func NewCatalog(groups []*metav1.APIGroup, lists []*metav1.APIResourceList) Catalog {
	preferred := map[string]string{}
	for _, g := range groups {
		preferred[g.Name] = g.PreferredVersion.Version
	}
	var c Catalog
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // subresources are not objects of their own
			}
			c = append(c, APIResource{
				Group: gv.Group, Version: gv.Version, Resource: r.Name, Kind: r.Kind, Namespaced: r.Namespaced,
				Preferred: preferred[gv.Group] == gv.Version,
				Watchable: slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch"),
			})
		}
	}
	return c
}
