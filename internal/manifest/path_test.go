package manifest

import (
	"path"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestPathLayout(t *testing.T) {
	cases := []struct {
		gr              schema.GroupResource
		namespace, name string
		suffix, want    string
	}{
		{schema.GroupResource{Resource: "configmaps"}, "default", "test-config", ".yaml", "live/default/configmaps/test-config.yaml"},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, "default", "web", ".yaml", "live/default/deployments.apps/web.yaml"},
		{schema.GroupResource{Resource: "namespaces"}, "", "default", ".yaml", "live/_cluster/namespaces/default.yaml"},
		{schema.GroupResource{Resource: "secrets"}, "default", "db-password", ".sops.yaml", "live/default/secrets/db-password.sops.yaml"},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "", "system:controller:job", ".yaml",
			"live/_cluster/clusterroles.rbac.authorization.k8s.io/system:controller:job.yaml"},
		// Hostile names stay one segment inside their folder.
		{schema.GroupResource{Resource: "configmaps"}, "default", "..", ".yaml", "live/default/configmaps/%2E..yaml"},
		{schema.GroupResource{Resource: "configmaps"}, "default", ".git", ".yaml", "live/default/configmaps/%2Egit.yaml"},
		{schema.GroupResource{Resource: "configmaps"}, "default", `a\b c`, ".yaml", "live/default/configmaps/a%5Cb%20c.yaml"},
		{schema.GroupResource{Resource: "configmaps"}, "default", "../../etc/passwd", ".yaml", "live/default/configmaps/%2E.%2F..%2Fetc%2Fpasswd.yaml"},
	}
	for _, tc := range cases {
		got, err := Path("live", tc.gr, tc.namespace, tc.name, tc.suffix)
		NewWithT(t).Expect(err).NotTo(HaveOccurred())
		NewWithT(t).Expect(got).To(Equal(tc.want))
	}
	_, err := Path("live", schema.GroupResource{Resource: "configmaps"}, "default", "", ".yaml")
	NewWithT(t).Expect(err).To(HaveOccurred())
}

// FuzzPathStaysInside: whatever the name, namespace and resource, the path is a file three
// segments below the root, and distinct names give distinct paths.
func FuzzPathStaysInside(f *testing.F) {
	for _, s := range []string{"..", ".", "/", "a/b", `..\..`, ".git", "%2E", "\x00", "ä", "_cluster"} {
		f.Add(s, "default", "configmaps", "x")
	}
	f.Fuzz(func(t *testing.T, name, namespace, resource, other string) {
		if namespace != "" {
			if p, _ := Path("root", schema.GroupResource{Resource: "r"}, namespace, "n", ".yaml"); strings.HasPrefix(p, "root/"+ClusterDir+"/") {
				t.Fatalf("namespace %q lands in the cluster folder", namespace)
			}
		}
		if name == "" || resource == "" {
			return
		}
		p, err := Path("root/live", schema.GroupResource{Group: "example.com", Resource: resource}, namespace, name, ".yaml")
		if err != nil {
			t.Fatalf("Path(%q, %q): %v", namespace, name, err)
		}
		if path.Clean(p) != p || !strings.HasPrefix(p, "root/live/") || strings.Count(p, "/") != 4 {
			t.Fatalf("Path(%q, %q, %q) = %q escapes or nests", namespace, name, resource, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." || seg == "." || strings.EqualFold(seg, ".git") {
				t.Fatalf("Path(%q) = %q has segment %q", name, p, seg)
			}
		}
		if other != "" && other != name {
			q, _ := Path("root/live", schema.GroupResource{Group: "example.com", Resource: resource}, namespace, other, ".yaml")
			if q == p {
				t.Fatalf("names %q and %q share the path %q", name, other, p)
			}
		}
	})
}

// The repository root is a folder too (the file-config mode's default), and no name leaves it.
func TestPathAtTheRepositoryRoot(t *testing.T) {
	p, err := Path("", schema.GroupResource{Resource: "configmaps"}, "ns", "a", ".yaml")
	if err != nil || p != "ns/configmaps/a.yaml" {
		t.Fatalf("Path at the root = %q, %v", p, err)
	}
	p, err = Path("", schema.GroupResource{Resource: "namespaces"}, "", "..", ".yaml")
	if err != nil || p != "_cluster/namespaces/%2E..yaml" {
		t.Fatalf("Path of .. at the root = %q, %v", p, err)
	}
}
