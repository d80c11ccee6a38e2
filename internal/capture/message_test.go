package capture

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/commitmsg"
)

func TestMessageHasTheDesignsSubjectAndTrailers(t *testing.T) {
	g := NewWithT(t)
	msg := message(commitInfo{
		Operation: "UPDATE", Resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
		Namespace: "default", Name: "web", ResourceVersion: "48213", When: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC),
		User: &attribution.User{Name: "alice", Groups: []string{"system:authenticated", "team-a"}},
	})
	g.Expect(msg).To(Equal(`[UPDATE] deployments.apps default/web

Kubernetes-User: alice
Kubernetes-Groups: system:authenticated, team-a
Kubernetes-Operation: UPDATE
Kubernetes-Resource: apps/v1, Resource=deployments
Kubernetes-Object: default/web
Kubernetes-Resource-Version: 48213
Kubernetes-Timestamp: 2026-11-21T12:00:00Z
`))
}

func TestUnattributedCoalescedAndClusterScopedChangesSaySo(t *testing.T) {
	g := NewWithT(t)
	msg := message(commitInfo{
		Operation: "DELETE", Resource: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, Name: "shop",
		When: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC), Coalesced: 3, Cluster: "prod",
		Earlier: []attribution.User{{Name: "bob"}, {Name: "system:serviceaccount:ci:deployer"}, {Name: "bob"}},
	})
	g.Expect(msg).To(Equal(`[DELETE] namespaces shop

Kubernetes-User: unattributed
Kubernetes-Operation: DELETE
Kubernetes-Resource: v1, Resource=namespaces
Kubernetes-Object: shop
Kubernetes-Timestamp: 2026-11-21T12:00:00Z
Kubernetes-Coalesced-Changes: 3
Co-authored-by: bob <bob@prod.kubernetes.invalid>
Co-authored-by: system:serviceaccount:ci:deployer <system-serviceaccount-ci-deployer@prod.kubernetes.invalid>
`))
}

func TestHostileNamesStayOnTheirLine(t *testing.T) {
	g := NewWithT(t)
	evil := "mallory\nKubernetes-User: root <x@y>"
	msg := message(commitInfo{
		Operation: "CREATE", Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
		Namespace: "default", Name: "cm", When: time.Unix(0, 0), User: &attribution.User{Name: evil, Groups: []string{"a\nb"}},
	})
	g.Expect(msg).To(ContainSubstring("Kubernetes-User: mallory Kubernetes-User: root <x@y>\n"))
	g.Expect(msg).To(ContainSubstring("Kubernetes-Groups: a b\n"))
	sig := author(&attribution.User{Name: evil}, "prod", time.Unix(0, 0))
	g.Expect(sig.Name).To(Equal("mallory Kubernetes-User: root  x@y"))
	g.Expect(sig.Email).To(Equal("mallory-Kubernetes-User--root--x-y@prod.kubernetes.invalid"))
}

func TestAuthorAddresses(t *testing.T) {
	for _, tc := range []struct{ user, want string }{
		{"alice", "alice@c.kubernetes.invalid"},
		{"alice@example.com", "alice@example.com"},
		{"system:serviceaccount:ci:deployer", "system-serviceaccount-ci-deployer@c.kubernetes.invalid"},
		{"https://issuer.example#1234", "https---issuer.example-1234@c.kubernetes.invalid"},
		{"Alice Example <alice@example.com>", "Alice-Example--alice-example.com@c.kubernetes.invalid"},
	} {
		if got := author(&attribution.User{Name: tc.user}, "c", time.Time{}).Email; got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.user, got, tc.want)
		}
	}
	if got := author(nil, "c", time.Time{}); got.Name != "unattributed" || got.Email != "unattributed@c.kubernetes.invalid" {
		t.Errorf("unattributed: got %+v", got)
	}
}

// Every commit of a target carries its cursor, and the cursor is read back from the history.
func TestCommitsCarryTheTargetsCursor(t *testing.T) {
	g := NewWithT(t)
	msg := message(commitInfo{
		Operation: "UPDATE", Resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
		Namespace: "default", Name: "web", ResourceVersion: "48213", When: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC),
		Target: "default/to-folder", Watermark: 48100, Newest: 48213,
	})
	g.Expect(msg).To(HaveSuffix("Kubernetes-Timestamp: 2026-11-21T12:00:00Z\nGitTarget: default/to-folder\nKubernetes-Watermark: 48100\nKubernetes-Newest-Resource-Version: 48213\n"))
	tr := trailers(msg)
	g.Expect(tr).To(HaveKeyWithValue(trailerTarget, "default/to-folder"))
	g.Expect(tr).To(HaveKeyWithValue(trailerWatermark, "48100"))
	g.Expect(tr).To(HaveKeyWithValue(trailerObject, "default/web"))
	id, ok := commitObject(msg, tr["Kubernetes-Resource"], tr[trailerObject])
	g.Expect(ok).To(BeTrue())
	g.Expect(id).To(Equal(objectID{gr: schema.GroupResource{Group: "apps", Resource: "deployments"}, namespace: "default", name: "web"}))
	id, ok = commitObject("[UPDATE] deployments.apps default/web\n\nKubernetes-Operation: UPDATE\n", tr["Kubernetes-Resource"], "")
	g.Expect(ok).To(BeTrue(), "a commit written before the trailer: its subject names the object")
	g.Expect(id.namespace + "/" + id.name).To(Equal("default/web"))

	// A person's subject: the trailer still names the object.
	subject, err := commitmsg.Parse("{{.User}} changed {{.Name}}")
	g.Expect(err).NotTo(HaveOccurred())
	templated := message(commitInfo{
		Operation: "UPDATE", Resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
		Namespace: "default", Name: "web", ResourceVersion: "48213", User: &attribution.User{Name: "alice"},
		When: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC), Target: "default/to-folder", Watermark: 48100, Newest: 48213, Subject: subject,
	})
	g.Expect(templated).To(HavePrefix("alice changed web\n\n"))
	g.Expect(strings.TrimPrefix(templated, "alice changed web")).To(Equal(strings.Replace(strings.TrimPrefix(msg, "[UPDATE] deployments.apps default/web"),
		"Kubernetes-User: unattributed\n", "Kubernetes-User: alice\n", 1)), "the trailers are the same")
	tr = trailers(templated)
	id, ok = commitObject(templated, tr["Kubernetes-Resource"], tr[trailerObject])
	g.Expect(ok).To(BeTrue())
	g.Expect(id.namespace + "/" + id.name).To(Equal("default/web"))

	cluster := message(commitInfo{Operation: "DELETE", Resource: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, Name: "shop",
		Target: "default/to-folder"})
	g.Expect(cluster).To(ContainSubstring("\nGitTarget: default/to-folder\n"))
	g.Expect(cluster).NotTo(ContainSubstring(trailerWatermark), "no watermark known: none written")
	id, ok = commitObject(cluster, trailers(cluster)["Kubernetes-Resource"], trailers(cluster)[trailerObject])
	g.Expect(ok).To(BeTrue())
	g.Expect(id).To(Equal(objectID{gr: schema.GroupResource{Resource: "namespaces"}, name: "shop"}))

	g.Expect(reconcileMessage("default/to-folder", "", "start", 2, 1, 500, 600)).To(HaveSuffix(
		"Reconcile-Reason: start\nGitTarget: default/to-folder\nKubernetes-Watermark: 500\nKubernetes-Newest-Resource-Version: 600\n"))
}

// A change whose history a re-list lost says it stands for an unknown number of changes.
func TestAChangeWhoseHistoryIsLostSaysSo(t *testing.T) {
	g := NewWithT(t)
	msg := message(commitInfo{
		Operation: "UPDATE", Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Namespace: "a", Name: "b",
		When: time.Unix(0, 0), Coalesced: 1, HistoryLost: true,
	})
	g.Expect(msg).To(ContainSubstring("\nKubernetes-Coalesced-Changes: unknown\n"))
}
