package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// Changes made while the operator is down, created, changed and deleted objects alike, reach Git
// when it is back, each as its own commit with its own operation and resourceVersion: the
// operator resumes its watches from the cursor its commits record. A change it had committed but
// not pushed when it died is made again, once.
func TestRestartResumesFromGitsCursor(t *testing.T) {
	g := NewWithT(t)
	const ns = "restart"
	repo := gitserver.NewSSHRepo(t, "restart")
	workDir := t.TempDir()
	first := runOperator(t, "admission", workDir)
	quickStart(t, ns, repo)
	alice := teamMember(t, ns, "alice")
	for _, name := range []string{"kept", "changed", "deleted"} {
		kubectlAs(t, alice, "", "create", "configmap", name, "--from-literal=key=v1", "-n", ns)
	}
	g.Eventually(func() []string { return names(files(t, repo, "live-cluster/restart")) }).WithTimeout(30 * time.Second).
		Should(ConsistOf("changed", "deleted", "kept"))
	version := func(name string) string {
		return kubectl(t, "", "get", "configmap", name, "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}")
	}

	// Committed (after the author wait) but not pushed (the push interval is 5s), then a crash:
	// nothing is flushed, nothing handed over.
	kubectlAs(t, alice, "", "patch", "configmap", "kept", "-n", ns, "--type", "merge", "-p", `{"data":{"key":"v2"}}`)
	keptVersion := version("kept")
	time.Sleep(2 * time.Second)
	first.Kill()
	kubectlAs(t, alice, "", "create", "configmap", "created", "--from-literal=key=v1", "-n", ns)
	createdVersion := version("created")
	kubectlAs(t, alice, "", "patch", "configmap", "changed", "-n", ns, "--type", "merge", "-p", `{"data":{"key":"v2"}}`)
	changedVersion := version("changed")
	kubectlAs(t, alice, "", "delete", "configmap", "deleted", "-n", ns)

	runOperator(t, "admission", workDir)
	g.Eventually(func() map[string]string { return files(t, repo, "live-cluster/restart") }).WithTimeout(60 * time.Second).Should(Equal(map[string]string{
		"live-cluster/restart/configmaps/changed.yaml": configMapYAML(ns, "changed", "v2"),
		"live-cluster/restart/configmaps/created.yaml": configMapYAML(ns, "created", "v1"),
		"live-cluster/restart/configmaps/kept.yaml":    configMapYAML(ns, "kept", "v2"),
	}))
	for subject, rv := range map[string]string{
		"[UPDATE] configmaps restart/kept":    keptVersion,
		"[CREATE] configmaps restart/created": createdVersion,
		"[UPDATE] configmaps restart/changed": changedVersion,
		"[DELETE] configmaps restart/deleted": "",
	} {
		c := eventuallyOneCommit(t, repo, subject)
		g.Expect(c.Trailers).To(HaveKey("Kubernetes-Resource-Version"), subject)
		if rv != "" {
			g.Expect(c.Trailers).To(HaveKeyWithValue("Kubernetes-Resource-Version", rv), subject)
		}
		g.Expect(c.Trailers).To(HaveKeyWithValue("GitTarget", ns+"/to-folder-live-cluster"), subject)
		g.Expect(c.Trailers).To(HaveKey("Kubernetes-Watermark"), subject)
	}
	// The operator that saw these requests is gone, and with it who made them: said, not guessed.
	g.Expect(withSubject(t, repo, "[CREATE] configmaps restart/created")[0].Trailers).To(HaveKeyWithValue("Kubernetes-User", "unattributed"))
	// The first start's reconcile wrote the folder's .sops.yaml; the restart's had nothing left
	// to write, since the history was there.
	g.Expect(withSubjectPrefix(t, repo, "[RECONCILE]")).To(HaveLen(1))

	// And it goes on as before.
	kubectlAs(t, alice, "", "create", "configmap", "after", "--from-literal=key=v1", "-n", ns)
	g.Expect(eventuallyOneCommit(t, repo, "[CREATE] configmaps restart/after").AuthorName).To(Equal("alice"))
	g.Expect(withSubject(t, repo, "[UPDATE] configmaps restart/kept")).To(HaveLen(1), "nothing committed twice")
	gitserver.Fsck(t, repo.Dir)
}

func configMapYAML(ns, name, value string) string {
	return fmt.Sprintf("apiVersion: v1\ndata:\n  key: %s\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\n", value, name, ns)
}

// names are the object names of manifest paths.
func names(files map[string]string) []string {
	var out []string
	for p := range files {
		base := p[strings.LastIndex(p, "/")+1:]
		out = append(out, strings.TrimSuffix(base, ".yaml"))
	}
	return out
}

// When the API server no longer holds the changes since the cursor (it compacted them, or it
// restarted and its watch cache starts later), the first reconcile stands in for them and says
// why; the history it still holds is committed change by change all the same.
func TestHistoryTheAPIServerNoLongerHoldsIsReconciled(t *testing.T) {
	g := NewWithT(t)
	const ns = "compacted"
	repo := gitserver.NewSSHRepo(t, "compacted")
	// A commit of this target from long ago: its watermark is history etcd has since compacted
	// for LimitRanges (the test API server watches them without its cache).
	gitserver.PushFiles(t, repo.Dir, branch, "[UPDATE] configmaps compacted/old\n\n"+
		"Kubernetes-Operation: UPDATE\nKubernetes-Resource: v1, Resource=configmaps\nKubernetes-Resource-Version: 1\n"+
		"GitTarget: compacted/to-folder-live-cluster\nKubernetes-Watermark: 1\nKubernetes-Newest-Resource-Version: 1\n",
		map[string]string{"live-cluster/compacted/configmaps/old.yaml": configMapYAML(ns, "old", "v1")})
	kubectl(t, "", "create", "namespace", ns)
	kubectl(t, "", "create", "configmap", "made-meanwhile", "--from-literal=key=v1", "-n", ns)
	kubectl(t, `apiVersion: v1
kind: LimitRange
metadata: {name: made-meanwhile}
spec:
  limits: [{type: Container, default: {cpu: 500m}}]
`, "apply", "-n", ns, "-f", "-")
	_, err := cluster.Env.CompactEtcd(t.Context())
	g.Expect(err).NotTo(HaveOccurred())
	runOperator(t, "admission", t.TempDir())
	// Our kinds are refused until the operator answers the escalation check.
	g.Eventually(func() error {
		_, err := cluster.Kubectl(t.Context(), cluster.Kubeconfig, `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata: {name: limits}
spec:
  targetRef: {name: to-folder-live-cluster}
  rules: [{resources: [limitranges]}]
`, "apply", "-n", ns, "-f", "-")
		return err
	}).WithTimeout(30 * time.Second).Should(Succeed())
	quickStart(t, ns, repo)
	g.Eventually(func() []string { return names(files(t, repo, "live-cluster/compacted")) }).WithTimeout(60 * time.Second).
		Should(ConsistOf("made-meanwhile", "made-meanwhile"))
	// The ConfigMap's history is there: its creation is a commit of its own.
	g.Expect(eventuallyOneCommit(t, repo, "[CREATE] configmaps compacted/made-meanwhile").Trailers).To(HaveKey("Kubernetes-Resource-Version"))
	reconciles := withSubjectPrefix(t, repo, "[RECONCILE] compacted/to-folder-live-cluster")
	g.Expect(reconciles).To(HaveLen(1))
	g.Expect(reconciles[0].Trailers["Reconcile-Reason"]).To(Equal(
		"start; the API server no longer holds the changes since resourceVersion 1 of /v1, Resource=limitranges in compacted"))
	g.Expect(reconciles[0].Trailers).To(HaveKey("Kubernetes-Watermark"))
}
