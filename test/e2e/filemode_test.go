package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

// seedConfig is git-controller's README example, verbatim (its trailing space included).
const seedConfig = `kinds:
- kind: VolumeSnapshot
  group: snapshot.storage.k8s.io
  apiVersion: v1alpha1
- kind: VolumeSnapshotContent
  group: snapshot.storage.k8s.io
  apiVersion: v1alpha1
rules:
- apiGroups:
  - snapshot.storage.k8s.io
  resources: 
  - volumesnapshots
  - volumesnapshotcontents
  syncTo: kubernetes
`

// snapshotCRDs serve VolumeSnapshot and VolumeSnapshotContent at v1alpha1, as the clusters of
// git-controller's day did.
const snapshotCRDs = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: volumesnapshots.snapshot.storage.k8s.io
  annotations: {api-approved.kubernetes.io: "https://github.com/kubernetes-csi/external-snapshotter/pull/419"}
spec:
  group: snapshot.storage.k8s.io
  scope: Namespaced
  names: {plural: volumesnapshots, singular: volumesnapshot, kind: VolumeSnapshot}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: volumesnapshotcontents.snapshot.storage.k8s.io
  annotations: {api-approved.kubernetes.io: "https://github.com/kubernetes-csi/external-snapshotter/pull/419"}
spec:
  group: snapshot.storage.k8s.io
  scope: Cluster
  names: {plural: volumesnapshotcontents, singular: volumesnapshotcontent, kind: VolumeSnapshotContent}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

func snapshot(source string) string {
	return `apiVersion: snapshot.storage.k8s.io/v1alpha1
kind: VolumeSnapshot
metadata:
  name: snap-a
  namespace: fc
spec:
  snapshotClassName: csi
  source:
    kind: PersistentVolumeClaim
    name: ` + source + "\n"
}

const snapshotContent = `apiVersion: snapshot.storage.k8s.io/v1alpha1
kind: VolumeSnapshotContent
metadata:
  name: content-a
spec:
  csiVolumeSnapshotSource: {driver: csi.example, snapshotHandle: handle-a}
  volumeSnapshotRef: {kind: VolumeSnapshot, name: snap-a, namespace: fc}
`

// git-controller's example as its README runs it: a config.yaml in the working directory and
// `gitops-reverser <url>`, nothing else, authenticating with the user's ~/.ssh. The objects in the
// repository are created, a change in Git is applied, a file deleted in Git is pruned, an edit in
// the cluster is put back, and an object we never applied stays.
func TestFileConfigModeRunsGitControllersExample(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(60 * time.Second)
	g.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	kubectl(t, snapshotCRDs, "apply", "-f", "-")
	kubectl(t, "", "wait", "--for=condition=Established", "crd/volumesnapshots.snapshot.storage.k8s.io", "crd/volumesnapshotcontents.snapshot.storage.k8s.io")
	kubectl(t, "", "create", "namespace", "fc")

	repo := gitserver.NewSSHRepo(t, "git-controller-test")
	gitserver.PushFiles(t, repo.Dir, "main", "snapshots", map[string]string{
		"snapshots/snap-a.yaml": snapshot("data"), "snapshots/content-a.yaml": snapshotContent,
	})
	home, work := t.TempDir(), t.TempDir()
	g.Expect(os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), repo.Key.PrivateKeyPEM, 0o600)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(home, ".ssh", "known_hosts"), []byte(repo.Server.KnownHosts()+"\n"), 0o600)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(work, "config.yaml"), []byte(seedConfig), 0o600)).To(Succeed())
	env := []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "SSH_AUTH_SOCK="}
	op, err := stack.StartOperatorIn(work, env, operator, cluster.Kubeconfig, filepath.Join(t.TempDir(), "operator.log"), repo.URL)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		if err := op.Stop(30 * time.Second); err != nil {
			t.Errorf("operator: %v", err)
		}
		if t.Failed() {
			t.Logf("operator log (last lines):\n%s", strings.Join(stack.LogTail(op.Log, 100), "\n"))
		}
	})

	get := func(args ...string) string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", append([]string{"get"}, args...)...)
		return strings.TrimSpace(out)
	}
	source := func() string {
		return get("volumesnapshot", "snap-a", "-n", "fc", "-o", "jsonpath={.spec.source.name}")
	}
	g.Eventually(source).Should(Equal("data"))
	g.Eventually(func() string {
		return get("volumesnapshotcontent", "content-a", "-o", "jsonpath={.spec.snapshotHandle}{.spec.csiVolumeSnapshotSource.snapshotHandle}")
	}).Should(Equal("handle-a"))
	kubectl(t, "apiVersion: snapshot.storage.k8s.io/v1alpha1\nkind: VolumeSnapshot\nmetadata: {name: by-hand, namespace: fc}\nspec: {}\n", "apply", "-f", "-")

	gitserver.PushFiles(t, repo.Dir, "main", "another source", map[string]string{"snapshots/snap-a.yaml": snapshot("data-2")})
	g.Eventually(source).Should(Equal("data-2"))

	kubectl(t, "", "patch", "volumesnapshot", "snap-a", "-n", "fc", "--type=merge", "-p", `{"spec":{"source":{"name":"by-hand"}}}`)
	g.Eventually(source).WithTimeout(10 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal("data-2"))

	gitserver.PushFiles(t, repo.Dir, "main", "content-a goes", map[string]string{"snapshots/content-a.yaml": ""})
	g.Eventually(func() string { return get("volumesnapshotcontent", "content-a", "--ignore-not-found", "-o", "name") }).Should(BeEmpty())
	g.Expect(get("volumesnapshot", "by-hand", "-n", "fc", "-o", "name")).To(Equal("volumesnapshot.snapshot.storage.k8s.io/by-hand"))
	g.Eventually(func() string {
		return get("configmaps", "-n", "default", "-o", `jsonpath={.items[?(@.data.repository=="`+repo.URL+`")].data.inventory\.json}`)
	}).Should(And(ContainSubstring("fc_snap-a_snapshot.storage.k8s.io_VolumeSnapshot"), Not(ContainSubstring("content-a"))))
	// Nothing was written to the repository: every rule says syncTo: kubernetes.
	g.Expect(gitserver.Git(t, repo.Dir, "log", "--format=%an", "main")).To(Equal("gitserver\ngitserver\ngitserver"))
}

// A mistake in config.yaml is one line naming the field, and a non-zero exit.
func TestFileConfigModeRefusesBadConfig(t *testing.T) {
	g := NewWithT(t)
	work := t.TempDir()
	g.Expect(os.WriteFile(filepath.Join(work, "config.yaml"), []byte("rules:\n- resources: [configmaps]\n  syncTo: cluster\n"), 0o600)).To(Succeed())
	cmd := exec.CommandContext(t.Context(), operator, "ssh://git@127.0.0.1:1/x.git")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
	out, err := cmd.CombinedOutput()
	g.Expect(err).To(HaveOccurred())
	g.Expect(cmd.ProcessState.ExitCode()).To(Equal(1))
	g.Expect(strings.TrimSpace(string(out))).To(Equal(`gitops-reverser: config.yaml: rules[0].syncTo: must be "git" or "kubernetes", not "cluster"`))
}
