package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// The ClusterWatchRule sample: namespaces (cluster-scoped) and the Deployments of namespaces
// labelled team=payments; a namespace that gains the label brings its Deployments along, one
// that loses it takes them away.
func TestClusterWatchRuleSampleFollowsNamespaceLabels(t *testing.T) {
	g := NewWithT(t)
	repo := gitserver.NewSSHRepo(t, "cluster")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, "default", repo)
	root, err := controlplane.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	sample, err := os.ReadFile(filepath.Join(root, "config", "samples", "clusterwatchrule.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	kubectl(t, string(sample), "apply", "-f", "-")
	t.Cleanup(func() {
		_, _ = cluster.Kubectl(context.Background(), cluster.Kubeconfig, string(sample), "delete", "-f", "-")
	})

	kubectl(t, "", "create", "namespace", "shop")
	kubectl(t, "", "create", "namespace", "billing")
	kubectl(t, "", "label", "namespace", "billing", "team=payments")
	for _, ns := range []string{"shop", "billing"} {
		kubectl(t, "", "create", "deployment", "web", "--image=registry.example/web:1", "-n", ns)
	}
	g.Eventually(func() map[string]string { return files(t, repo, "live-cluster") }).WithTimeout(30*time.Second).Should(And(
		HaveKey("live-cluster/_cluster/namespaces/shop.yaml"),
		HaveKey("live-cluster/_cluster/namespaces/billing.yaml"),
		HaveKey("live-cluster/billing/deployments.apps/web.yaml"),
	), "namespaces and the Deployment of the payments namespace")
	g.Expect(files(t, repo, "live-cluster")).NotTo(HaveKey("live-cluster/shop/deployments.apps/web.yaml"))
	g.Expect(files(t, repo, "live-cluster")["live-cluster/_cluster/namespaces/billing.yaml"]).To(ContainSubstring("team: payments"))

	kubectl(t, "", "label", "namespace", "shop", "team=payments")
	g.Eventually(func() map[string]string { return files(t, repo, "live-cluster") }).WithTimeout(30 * time.Second).
		Should(HaveKey("live-cluster/shop/deployments.apps/web.yaml"))
	kubectl(t, "", "label", "namespace", "billing", "team-")
	g.Eventually(func() map[string]string { return files(t, repo, "live-cluster") }).WithTimeout(30 * time.Second).
		ShouldNot(HaveKey("live-cluster/billing/deployments.apps/web.yaml"))
	gitserver.Fsck(t, repo.Dir)
}

// A WatchRule naming a resource whose CRD does not exist yet starts writing its objects within
// seconds of the CRD's creation, and lets go of it cleanly when the CRD is deleted.
func TestACRDCreatedAfterStartIsPickedUpAndDroppedWhenDeleted(t *testing.T) {
	g := NewWithT(t)
	const ns = "late-crd"
	repo := gitserver.NewSSHRepo(t, "late-crd")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	kubectl(t, `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: widgets
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - apiGroups: [example.com]
      resources: [widgets]
`, "apply", "-n", ns, "-f", "-")
	g.Eventually(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "watchrule", "widgets", "-n", ns,
			"-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}`)
		return out
	}).WithTimeout(30 * time.Second).Should(Equal("ResourceNotFound"))

	crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              x-kubernetes-preserve-unknown-fields: true
`
	kubectl(t, crd, "apply", "-f", "-")
	kubectl(t, "", "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s")
	g.Eventually(func() error {
		_, err := cluster.Kubectl(t.Context(), cluster.Kubeconfig, `apiVersion: example.com/v1
kind: Widget
metadata:
  name: sprocket
spec:
  teeth: 12
`, "apply", "-n", ns, "-f", "-")
		return err
	}).WithTimeout(30 * time.Second).Should(Succeed())
	const path = "live-cluster/late-crd/widgets.example.com/sprocket.yaml"
	g.Eventually(func() map[string]string { return files(t, repo, "live-cluster") }).WithTimeout(30 * time.Second).
		Should(HaveKeyWithValue(path, ContainSubstring("teeth: 12")))

	kubectl(t, "", "delete", "crd", "widgets.example.com")
	g.Eventually(func() map[string]string { return files(t, repo, "live-cluster") }).WithTimeout(30 * time.Second).
		ShouldNot(HaveKey(path))
	g.Eventually(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "watchrule", "widgets", "-n", ns,
			"-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}`)
		return out
	}).WithTimeout(30 * time.Second).Should(Equal("ResourceNotFound"))
	gitserver.Fsck(t, repo.Dir)
}
