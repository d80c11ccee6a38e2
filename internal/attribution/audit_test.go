package attribution

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// watchOne watches the object named name, from now on, as an informer would.
func watchOne(t *testing.T, gvr schema.GroupVersionResource, name string) <-chan watch.Event {
	t.Helper()
	w, err := clientAs(t, "admin", "").Resource(gvr).Namespace(testNamespace).Watch(t.Context(),
		metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w.ResultChan()
}

// next returns the next event of type want on events, skipping others.
func next(t *testing.T, events <-chan watch.Event, want watch.EventType) *unstructured.Unstructured {
	t.Helper()
	g := NewWithT(t)
	for {
		var ev watch.Event
		g.Eventually(events).WithTimeout(time.Minute).Should(Receive(&ev))
		if ev.Type == want {
			return ev.Object.(*unstructured.Unstructured)
		}
	}
}

func TestAuditAttributesChangesToTheirAuthors(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	alice := clientAs(t, "alice", "").Resource(configMaps).Namespace(testNamespace)
	bob := clientAs(t, "admin", "bob").Resource(configMaps).Namespace(testNamespace)
	const name = "audit-changes"
	events := watchOne(t, configMaps, name)

	created, err := alice.Create(ctx, configMap(name, map[string]any{"color": "blue"}), metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	user := expectAttributed(t, auditIndex, query(t, configMaps, OperationCreate, created))
	g.Expect(user.Name).To(Equal("alice"))
	g.Expect(user.Groups).To(ContainElement("system:authenticated"))
	g.Expect(user.ImpersonatedBy).To(BeEmpty())

	created.Object["data"] = map[string]any{"color": "green"}
	updated, err := alice.Update(ctx, created, metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(expectAttributed(t, auditIndex, query(t, configMaps, OperationUpdate, updated)).Name).To(Equal("alice"))

	patched, err := bob.Patch(ctx, name, types.MergePatchType, []byte(`{"data":{"color":"red"}}`), metav1.PatchOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	user = expectAttributed(t, auditIndex, query(t, configMaps, OperationUpdate, patched))
	g.Expect(user.Name).To(Equal("bob"))
	g.Expect(user.ImpersonatedBy).To(Equal("admin"))

	g.Expect(alice.Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
	deleted := next(t, events, watch.Deleted)
	// The watch reports the deletion with the revision of the delete, not the object's last one...
	g.Expect(deleted.GetResourceVersion()).NotTo(Equal(patched.GetResourceVersion()))
	g.Expect(expectAttributed(t, auditIndex, query(t, configMaps, OperationDelete, deleted)).Name).To(Equal("alice"))
	// ...while the delete response, a Status, has the UID and no resourceVersion.
	g.Eventually(auditLog.get("configmaps", testNamespace, name)).WithTimeout(time.Minute).Should(Equal(deleteEvent{
		ResponseKind: "Status", DetailsUID: string(created.GetUID()),
	}))
}

// A delete answered with the object (pods, custom resources) carries the same resourceVersion as
// the watch's delete event: the revision of the delete.
func TestAuditMatchesDeletesAnsweredWithTheObject(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: testNamespace}}
	if err := env.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	alice := clientAs(t, "alice", "").Resource(pods).Namespace(testNamespace)
	const name = "audit-pod"
	events := watchOne(t, pods, name)
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": testNamespace},
		"spec": map[string]any{
			"automountServiceAccountToken": false,
			"containers":                   []any{map[string]any{"name": "c", "image": "example.invalid/c:1"}},
		},
	}}
	created, err := alice.Create(ctx, pod, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(expectAttributed(t, auditIndex, query(t, pods, OperationCreate, created)).Name).To(Equal("alice"))

	// Not scheduled, so deleted at once rather than gracefully.
	g.Expect(alice.Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
	deleted := next(t, events, watch.Deleted)
	g.Expect(expectAttributed(t, auditIndex, query(t, pods, OperationDelete, deleted)).Name).To(Equal("alice"))
	g.Eventually(auditLog.get("pods", testNamespace, name)).WithTimeout(time.Minute).Should(Equal(deleteEvent{
		ResponseKind: "Pod", ResponseUID: string(created.GetUID()), ResponseResourceVersion: deleted.GetResourceVersion(),
	}))
}

// A delete that only marks the object (it has finalizers) is the write behind the update the watch
// shows; the fact of the delete attributes it.
func TestAuditAttributesMarkingForDeletion(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	alice := clientAs(t, "alice", "").Resource(configMaps).Namespace(testNamespace)
	const name = "audit-finalized"
	events := watchOne(t, configMaps, name)
	cm := configMap(name, map[string]any{"k": "v"})
	cm.SetFinalizers([]string{"example.com/hold"})
	created, err := alice.Create(ctx, cm, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	expectAttributed(t, auditIndex, query(t, configMaps, OperationCreate, created))
	t.Cleanup(func() {
		_, _ = clientAs(t, "admin", "").Resource(configMaps).Namespace(testNamespace).Patch(ctx, name,
			types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	})

	g.Expect(alice.Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
	marked := next(t, events, watch.Modified)
	g.Expect(marked.GetDeletionTimestamp()).NotTo(BeNil())
	g.Expect(expectAttributed(t, auditIndex, query(t, configMaps, OperationUpdate, marked)).Name).To(Equal("alice"))
}

// kubectl scale writes the main resource through its scale subresource.
func TestAuditAttributesScaling(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	const name = "audit-scaled"
	deploy := &unstructured.Unstructured{}
	g.Expect(deploy.UnmarshalJSON([]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + name + `","namespace":"default"},
		"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},
		"spec":{"containers":[{"name":"c","image":"example.invalid/c:1"}]}}}}`))).To(Succeed())
	created, err := clientAs(t, "alice", "").Resource(deployments).Namespace(testNamespace).Create(ctx, deploy, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	expectAttributed(t, auditIndex, query(t, deployments, OperationCreate, created))

	bob := clientAs(t, "admin", "bob").Resource(deployments).Namespace(testNamespace)
	_, err = bob.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}, "scale")
	g.Expect(err).NotTo(HaveOccurred())
	scaled, err := bob.Get(ctx, name, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(scaled.GetGeneration()).To(Equal(created.GetGeneration() + 1))
	g.Expect(expectAttributed(t, auditIndex, query(t, deployments, OperationUpdate, scaled)).Name).To(Equal("bob"))
}
