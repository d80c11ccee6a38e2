package attribution

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// expectAttributed waits until idx attributes the change q describes and returns to whom. While
// the fact is there, a query for other content (another hash and resourceVersion; for a delete,
// another UID) must not match it.
func expectAttributed(t *testing.T, idx *Index, q Query) User {
	t.Helper()
	other := q
	if q.Operation == OperationDelete {
		other.UID = "other-" + q.UID
	} else {
		other.ContentHash = ContentHash([]byte("other content"))
		other.ResourceVersion = "1" + q.ResourceVersion
	}
	var user User
	NewWithT(t).Eventually(func() bool {
		if u, ok := idx.Lookup(other); ok {
			StopTrying(fmt.Sprintf("a query for other content was attributed to %s", u.Name)).Now()
		}
		var ok bool
		user, ok = idx.Lookup(q)
		return ok
	}).WithTimeout(time.Minute).WithPolling(20*time.Millisecond).Should(BeTrue(), "nobody was attributed %+v", q)
	return user
}

func TestAdmissionAttributesChangesToTheirAuthors(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	alice := clientAs(t, "alice", "").Resource(configMaps).Namespace(testNamespace)
	bob := clientAs(t, "admin", "bob").Resource(configMaps).Namespace(testNamespace)

	created, err := alice.Create(ctx, configMap("admission-changes", map[string]any{"color": "blue"}), metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	user := expectAttributed(t, admissionIndex, query(t, configMaps, OperationCreate, created))
	g.Expect(user.Name).To(Equal("alice"))
	g.Expect(user.Groups).To(ContainElement("system:authenticated"))

	created.Object["data"] = map[string]any{"color": "green"}
	updated, err := alice.Update(ctx, created, metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(expectAttributed(t, admissionIndex, query(t, configMaps, OperationUpdate, updated)).Name).To(Equal("alice"))

	updated.Object["data"] = map[string]any{"color": "red"}
	byBob, err := bob.Update(ctx, updated, metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	user = expectAttributed(t, admissionIndex, query(t, configMaps, OperationUpdate, byBob))
	g.Expect(user.Name).To(Equal("bob"))
	// Admission sees only the effective user: the impersonator is in audit events alone.
	g.Expect(user.ImpersonatedBy).To(BeEmpty())

	// An update that changes nothing (the API server does not even write it) records nothing...
	unchanged, err := alice.Update(ctx, byBob, metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(unchanged.GetResourceVersion()).To(Equal(byBob.GetResourceVersion()))

	g.Expect(alice.Delete(ctx, byBob.GetName(), metav1.DeleteOptions{})).To(Succeed())
	g.Expect(expectAttributed(t, admissionIndex, query(t, configMaps, OperationDelete, byBob)).Name).To(Equal("alice"))
	// ...so it cannot claim a later change back to the same content.
	_, ok := admissionIndex.Lookup(query(t, configMaps, OperationUpdate, byBob))
	g.Expect(ok).To(BeFalse())
}

// The object a validating webhook sees must hash like the object the API server stores, for every
// kind of change: defaults, allocated fields, converted fields, generation, server-set labels.
func TestAdmissionSeesWhatTheAPIServerStores(t *testing.T) {
	ctx := t.Context()
	alice := clientAs(t, "alice", "")
	cases := []struct {
		gvr    schema.GroupVersionResource
		object string
		update func(obj *unstructured.Unstructured)
	}{
		{gvr: configMaps, object: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"stored-cm","namespace":"default",
			"labels":{"app":"x"},"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},"data":{"k":"v"}}`},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "secrets"},
			object: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"stored-secret","namespace":"default"},"stringData":{"password":"hunter2"}}`},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "services"},
			object: `{"apiVersion":"v1","kind":"Service","metadata":{"name":"stored-svc","namespace":"default"},
			"spec":{"type":"NodePort","selector":{"app":"x"},"ports":[{"port":80}]}}`},
		{gvr: deployments, object: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"stored-deploy","namespace":"default"},
			"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},
			"spec":{"containers":[{"name":"c","image":"example.invalid/c:1"}]}}}}`,
			update: func(obj *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(obj.Object, int64(3), "spec", "replicas")
			}},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"},
			object: `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"stored-ns"}}`,
			update: func(obj *unstructured.Unstructured) { obj.SetLabels(map[string]string{"team": "a"}) }},
	}
	for _, tc := range cases {
		t.Run(tc.gvr.Resource, func(t *testing.T) {
			g := NewWithT(t)
			obj := &unstructured.Unstructured{}
			g.Expect(obj.UnmarshalJSON([]byte(tc.object))).To(Succeed())
			c := alice.Resource(tc.gvr).Namespace(obj.GetNamespace())
			created, err := c.Create(ctx, obj, metav1.CreateOptions{FieldManager: "kubectl"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(expectAttributed(t, admissionIndex, query(t, tc.gvr, OperationCreate, created)).Name).To(Equal("alice"))
			if tc.update == nil {
				return
			}
			tc.update(created)
			updated, err := c.Update(ctx, created, metav1.UpdateOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(expectAttributed(t, admissionIndex, query(t, tc.gvr, OperationUpdate, updated)).Name).To(Equal("alice"))
		})
	}
}

func TestAdmissionIgnoresDryRuns(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	alice := clientAs(t, "alice", "").Resource(configMaps).Namespace(testNamespace)

	dry, err := alice.Create(ctx, configMap("admission-dry-run", map[string]any{"k": "v"}), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(dry.GetUID()).NotTo(BeEmpty())
	// The API server waits for the webhook before it answers, so the dry run reached the receiver
	// before the next write was even sent.
	next, err := alice.Create(ctx, configMap("admission-after-dry-run", map[string]any{"k": "v"}), metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	expectAttributed(t, admissionIndex, query(t, configMaps, OperationCreate, next))

	_, ok := admissionIndex.Lookup(query(t, configMaps, OperationCreate, dry))
	g.Expect(ok).To(BeFalse())
}

// The webhook's matchConditions keep the API server from calling it for high-churn resources.
func TestAdmissionSkipsLeasesAndEvents(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	admin := clientAs(t, "admin", "")
	skipped := []struct {
		gvr    schema.GroupVersionResource
		object string
	}{
		{schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"},
			`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"skipped","namespace":"default"},"spec":{"holderIdentity":"x"}}`},
		{schema.GroupVersionResource{Version: "v1", Resource: "events"},
			`{"apiVersion":"v1","kind":"Event","metadata":{"name":"skipped-core","namespace":"default"},
			"involvedObject":{"kind":"ConfigMap","namespace":"default","name":"x"},"reason":"Test","message":"m"}`},
		{schema.GroupVersionResource{Group: "events.k8s.io", Version: "v1", Resource: "events"},
			`{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"skipped-events","namespace":"default"},
			"eventTime":"2026-01-01T00:00:00.000000Z","reportingController":"example.com/x","reportingInstance":"x","action":"Test","reason":"Test",
			"regarding":{"kind":"ConfigMap","namespace":"default","name":"x"},"type":"Normal"}`},
	}
	var queries []Query
	for _, s := range skipped {
		obj := &unstructured.Unstructured{}
		g.Expect(obj.UnmarshalJSON([]byte(s.object))).To(Succeed())
		created, err := admin.Resource(s.gvr).Namespace(testNamespace).Create(ctx, obj, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		queries = append(queries, query(t, s.gvr, OperationCreate, created))
	}
	// As in TestAdmissionIgnoresDryRuns: once a later write is attributed, the earlier ones were
	// seen, if the API server sent them at all.
	next, err := admin.Resource(configMaps).Namespace(testNamespace).Create(ctx, configMap("admission-after-skipped", nil), metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	expectAttributed(t, admissionIndex, query(t, configMaps, OperationCreate, next))
	for _, q := range queries {
		_, ok := admissionIndex.Lookup(q)
		g.Expect(ok).To(BeFalse(), "%s/%s was sent to the webhook", q.Group, q.Resource)
	}
}
