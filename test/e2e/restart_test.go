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
// when it is back: the folder equals the cluster, in one reconcile commit by the operator.
func TestRestartConvergesOnWhatChangedWhileDown(t *testing.T) {
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

	// A crash: nothing is flushed, nothing handed over.
	first.Kill()
	kubectlAs(t, alice, "", "create", "configmap", "created", "--from-literal=key=v1", "-n", ns)
	kubectlAs(t, alice, "", "patch", "configmap", "changed", "-n", ns, "--type", "merge", "-p", `{"data":{"key":"v2"}}`)
	kubectlAs(t, alice, "", "delete", "configmap", "deleted", "-n", ns)

	runOperator(t, "admission", workDir)
	g.Eventually(func() map[string]string { return files(t, repo, "live-cluster/restart") }).WithTimeout(60 * time.Second).Should(Equal(map[string]string{
		"live-cluster/restart/configmaps/changed.yaml": configMapYAML(ns, "changed", "v2"),
		"live-cluster/restart/configmaps/created.yaml": configMapYAML(ns, "created", "v1"),
		"live-cluster/restart/configmaps/kept.yaml":    configMapYAML(ns, "kept", "v1"),
	}))
	reconciles := withSubject(t, repo, "[RECONCILE] restart/to-folder-live-cluster: 2 written, 1 removed")
	g.Expect(reconciles).To(HaveLen(1))
	g.Expect(reconciles[0].AuthorName).To(Equal("gitops-reverser"))
	g.Expect(reconciles[0].Trailers).To(HaveKeyWithValue("Reconcile-Reason", "start"))

	// And it goes on as before.
	kubectlAs(t, alice, "", "create", "configmap", "after", "--from-literal=key=v1", "-n", ns)
	g.Expect(eventuallyOneCommit(t, repo, "[CREATE] configmaps restart/after").AuthorName).To(Equal("alice"))
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
