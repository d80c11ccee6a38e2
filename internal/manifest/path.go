package manifest

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ClusterDir is the folder of cluster-scoped objects. Namespaces cannot start with "_", so it
// never collides with a namespace's folder.
const ClusterDir = "_cluster"

// Path returns where an object goes below the target folder root:
//
//	<root>/<namespace>/<resource>[.<group>]/<name>.yaml   namespaced
//	<root>/_cluster/<resource>[.<group>]/<name>.yaml      cluster-scoped
//
// <resource>.<group> is kubectl's fully qualified name (deployments.apps). suffix is ".yaml" or
// ".sops.yaml". Every segment is escaped so that no name can leave its folder.
func Path(root string, gvr schema.GroupResource, namespace, name, suffix string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("object of %s has no name", gvr)
	}
	if gvr.Resource == "" {
		return "", fmt.Errorf("object %s has no resource", name)
	}
	scope := ClusterDir
	if namespace != "" {
		scope = escape(namespace)
	}
	p := path.Join(root, scope, ResourceDir(gvr), escape(name)+suffix)
	// The escaping makes this impossible; the check keeps it impossible. An empty root is the
	// repository's.
	outside := strings.HasPrefix(p, "../") || strings.HasPrefix(p, "/")
	if root != "" {
		outside = !strings.HasPrefix(p, path.Clean(root)+"/")
	}
	if outside {
		return "", fmt.Errorf("path %q of %s %s/%s is outside %q", p, gvr, namespace, name, root)
	}
	return p, nil
}

// escape percent-encodes every byte that is not safe in a file name, and a leading "." or "_", so
// "..", ".git", "_cluster" and names with "/" or "\" stay one harmless segment of their own.
// Kubernetes names cannot contain "%", so the encoding is unambiguous and reversible.
func escape(segment string) string {
	var b strings.Builder
	for i := 0; i < len(segment); i++ {
		c := segment[i]
		safe := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == ':' || c == '@' || c == '+' || ((c == '.' || c == '_') && i > 0)
		if safe {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ResourceDir is the name of the folder that holds the objects of gr, as Path writes it:
// <resource>[.<group>], escaped.
func ResourceDir(gr schema.GroupResource) string {
	resource := gr.Resource
	if gr.Group != "" {
		resource += "." + gr.Group
	}
	return escape(resource)
}
