package e2e

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// TestACommitRequestPushesWhatIsPendingAtOnceAndSaysWhere: with a push interval of an hour,
// alice's change waits; her CommitRequest pushes it at once, restores what a person removed in
// Git as one commit of hers with her message, and reports the commits.
func TestACommitRequestPushesWhatIsPendingAtOnceAndSaysWhere(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(60 * time.Second)
	g.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	ns := "commit-request"
	repo := gitserver.NewSSHRepo(t, "commit-request")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	alice := teamMember(t, ns, "alice")
	kubectl(t, "", "create", "role", "save-now", "-n", ns, "--verb=create,get,list,watch", "--resource=commitrequests.configbutler.ai")
	kubectl(t, "", "create", "rolebinding", "save-now", "-n", ns, "--role=save-now", "--group=team-a")
	tip := func() string { return gitserver.Refs(t, repo.Dir)["refs/heads/"+branch] }

	kubectlAs(t, alice, "", "create", "configmap", "restored", "--from-literal=k=v", "-n", ns)
	eventuallyOneCommit(t, repo, "[CREATE] configmaps "+ns+"/restored")
	gitserver.PushFiles(t, repo.Dir, branch, "a person removes a file", map[string]string{
		"live-cluster/" + ns + "/configmaps/restored.yaml": "",
	})

	kubectl(t, "", "patch", "gitprovider", "your-repo", "-n", ns, "--type", "merge",
		"-p", `{"spec":{"push":{"interval":"1h","maxCommits":1000}}}`)
	time.Sleep(2 * time.Second) // the writer takes its new policy when the target reconciles
	kubectlAs(t, alice, "", "create", "configmap", "waiting", "--from-literal=k=v", "-n", ns)
	before := tip()
	g.Consistently(tip).WithTimeout(8*time.Second).WithPolling(500*time.Millisecond).Should(Equal(before),
		"the change waits for the next push, in an hour")

	kubectlAs(t, alice, `apiVersion: configbutler.ai/v1alpha1
kind: CommitRequest
metadata:
  name: before-the-window-closes
spec:
  targetRef:
    name: to-folder-live-cluster
  message: "Snapshot before the change window closes"
`, "apply", "-n", ns, "-f", "-")
	kubectl(t, "", "wait", "--for=condition=Ready", "--timeout=60s", "-n", ns, "commitrequest/before-the-window-closes")
	status := strings.Fields(kubectl(t, "", "get", "commitrequest", "before-the-window-closes", "-n", ns, "-o",
		`jsonpath={.status.conditions[?(@.type=="Ready")].reason} {.status.commit} {.status.requestCommit} {.status.requester}`))
	g.Expect(status).To(HaveLen(4), "reason, commit, request commit, requester: %v", status)
	g.Expect(status[0]).To(Equal("Saved"))
	g.Expect(status[1]).To(Equal(tip()), "the reported commit is the remote's tip")
	g.Expect(status[3]).To(Equal("alice"))

	eventuallyOneCommit(t, repo, "[CREATE] configmaps "+ns+"/waiting")
	own := eventuallyOneCommit(t, repo, "Snapshot before the change window closes")
	g.Expect(own.AuthorName).To(Equal("alice"))
	g.Expect(own.Trailers).To(HaveKeyWithValue("Commit-Request", ns+"/before-the-window-closes"))
	g.Expect(own.Trailers).To(HaveKeyWithValue("Reconcile-Reason", "requested"))
	g.Expect(gitserver.Git(t, repo.Dir, "log", "-1", "--format=%H", "--grep=Snapshot before the change window closes", branch)).
		To(HavePrefix(status[2]), "the request's own commit is reported")
	g.Expect(files(t, repo, "live-cluster")).To(HaveKey("live-cluster/"+ns+"/configmaps/restored.yaml"), "restored by the request")

	// A request is done once; its spec does not change.
	out, err := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "patch", "commitrequest", "before-the-window-closes", "-n", ns,
		"--type", "merge", "-p", `{"spec":{"message":"again"}}`)
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("a one-time request"))
	gitserver.Fsck(t, repo.Dir)
}
