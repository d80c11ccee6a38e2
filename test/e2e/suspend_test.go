package e2e

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// TestASuspendedTargetDoesNothingAndCatchesUpWhenResumed: while spec.suspend is true nothing is
// committed, pushed or applied for the target, in either direction; resuming writes what changed
// meanwhile, one commit per change, each by its author, and applies what Git holds again.
func TestASuspendedTargetDoesNothingAndCatchesUpWhenResumed(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(60 * time.Second) // the quick start pushes every 5s
	g.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	ns := "suspend"
	repo := gitserver.NewSSHRepo(t, "suspend")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	alice := teamMember(t, ns, "alice")
	get := func(args ...string) string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", append([]string{"get", "-n", ns}, args...)...)
		return strings.TrimSpace(out)
	}

	// Both directions at work: a ConfigMap captured, and one applied from Git.
	kubectlAs(t, alice, "", "create", "configmap", "kept", "--from-literal=k=v1", "-n", ns)
	eventuallyOneCommit(t, repo, "[CREATE] configmaps "+ns+"/kept")
	kubectl(t, fromGitRule, "apply", "-n", ns, "-f", "-")
	gitserver.PushFiles(t, repo.Dir, branch, "settings, by a person", map[string]string{
		"live-cluster/apps/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings\n  labels: {sync: kube}\ndata:\n  setting: one\n",
	})
	// As a push webhook would: fetch now rather than at the next interval.
	kubectl(t, "", "annotate", "gittarget", "to-folder-live-cluster", "-n", ns, "--overwrite",
		"configbutler.ai/reconcile-requested-at="+time.Now().Format(time.RFC3339Nano))
	g.Eventually(func() string { return get("configmap", "app-settings", "-o", "jsonpath={.data.setting}") }).Should(Equal("one"))

	kubectl(t, "", "patch", "gittarget", "to-folder-live-cluster", "-n", ns, "--type", "merge", "-p", `{"spec":{"suspend":true}}`)
	g.Eventually(func() string {
		return get("events", "--field-selector", "reason=Suspended,involvedObject.name=to-folder-live-cluster", "-o", "name")
	}).ShouldNot(BeEmpty())
	g.Expect(kubectl(t, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns)).To(MatchRegexp(`(?m)^NAME .*SUSPENDED`))
	g.Expect(get("gittarget", "to-folder-live-cluster", "-o", "custom-columns=S:.spec.suspend", "--no-headers")).To(Equal("true"))

	// What happens meanwhile: changes in the cluster, drift of an applied object, a new file in Git.
	kubectlAs(t, alice, "", "create", "configmap", "made-while-suspended", "--from-literal=k=v", "-n", ns)
	kubectl(t, "", "patch", "configmap", "kept", "-n", ns, "--as", "bob", "--as-group", "team-a",
		"--type", "merge", "-p", `{"data":{"k":"v2"}}`)
	kubectl(t, "", "patch", "configmap", "app-settings", "-n", ns, "--type", "merge", "-p", `{"data":{"setting":"drifted"}}`)
	gitserver.PushFiles(t, repo.Dir, branch, "more settings, by a person", map[string]string{
		"live-cluster/apps/more.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: more-settings\n  labels: {sync: kube}\ndata:\n  setting: two\n",
	})
	tip := gitserver.Refs(t, repo.Dir)["refs/heads/"+branch]
	g.Consistently(func() string { return gitserver.Refs(t, repo.Dir)["refs/heads/"+branch] }).
		WithTimeout(8*time.Second).WithPolling(500*time.Millisecond).Should(Equal(tip), "no commit while suspended")
	g.Expect(get("configmap", "app-settings", "-o", "jsonpath={.data.setting}")).To(Equal("drifted"), "no drift put back while suspended")
	g.Expect(get("configmap", "more-settings", "--ignore-not-found")).To(BeEmpty(), "nothing applied while suspended")

	kubectl(t, "", "patch", "gittarget", "to-folder-live-cluster", "-n", ns, "--type", "merge", "-p", `{"spec":{"suspend":false}}`)
	created := eventuallyOneCommit(t, repo, "[CREATE] configmaps "+ns+"/made-while-suspended")
	g.Expect(created.AuthorName).To(Equal("alice"))
	updated := eventuallyOneCommit(t, repo, "[UPDATE] configmaps "+ns+"/kept")
	g.Expect(updated.AuthorName).To(Equal("bob"))
	g.Expect(files(t, repo, "live-cluster")["live-cluster/"+ns+"/configmaps/kept.yaml"]).To(ContainSubstring("k: v2"))
	g.Eventually(func() string { return get("configmap", "app-settings", "-o", "jsonpath={.data.setting}") }).Should(Equal("one"))
	g.Eventually(func() string { return get("configmap", "more-settings", "-o", "jsonpath={.data.setting}") }).Should(Equal("two"))
	g.Expect(get("events", "--field-selector", "reason=Resumed,involvedObject.name=to-folder-live-cluster", "-o", "name")).NotTo(BeEmpty())
	g.Expect(commits(t, repo)).NotTo(ContainElement(HaveField("AuthorName", "unattributed")))
	gitserver.Fsck(t, repo.Dir)
}
