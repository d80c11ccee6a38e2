package e2e

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// The seed's quick start, end to end: a ConfigMap created, changed and deleted by people becomes
// three commits on the remote, each authored by the person who made the change.
func TestQuickStartWithAdmissionAttribution(t *testing.T) {
	quickStartScenario(t, "default", "admission")
}

func TestQuickStartWithAuditAttribution(t *testing.T) {
	quickStartScenario(t, "quickstart-audit", "audit")
}

func quickStartScenario(t *testing.T, ns, source string) {
	g := NewWithT(t)
	repo := gitserver.NewSSHRepo(t, "my-k8s-audit")
	runOperator(t, source, t.TempDir())
	quickStart(t, ns, repo)
	alice := teamMember(t, ns, "alice")

	before := time.Now().UTC().Add(-time.Second)
	kubectlAs(t, alice, "", "create", "configmap", "test-config", "--from-literal=key=value", "-n", ns)
	created := eventuallyOneCommit(t, repo, "[CREATE] configmaps "+ns+"/test-config")
	g.Expect(created).To(MatchFields(IgnoreExtras, Fields{
		"AuthorName": Equal("alice"), "AuthorEmail": Equal("alice@e2e.kubernetes.invalid"), "CommitterName": Equal("gitops-reverser"),
		"Trailers": MatchKeys(IgnoreExtras, Keys{
			"Kubernetes-User":      Equal("alice"),
			"Kubernetes-Groups":    ContainSubstring("team-a"),
			"Kubernetes-Operation": Equal("CREATE"),
			"Kubernetes-Resource":  Equal("v1, Resource=configmaps"),
		}),
	}))
	stamp, err := time.Parse(time.RFC3339, created.Trailers["Kubernetes-Timestamp"])
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(stamp).To(BeTemporally(">=", before.Truncate(time.Second)))
	path := "live-cluster/" + ns + "/configmaps/test-config.yaml"
	g.Expect(files(t, repo, "live-cluster")).To(HaveKeyWithValue(path,
		"apiVersion: v1\ndata:\n  key: value\nkind: ConfigMap\nmetadata:\n  name: test-config\n  namespace: "+ns+"\n"))

	// bob, impersonated by the admin (kubectl --as), changes it.
	kubectl(t, "", "patch", "configmap", "test-config", "-n", ns, "--as", "bob", "--as-group", "team-a",
		"--type", "merge", "-p", `{"data":{"key":"changed"}}`)
	updated := eventuallyOneCommit(t, repo, "[UPDATE] configmaps "+ns+"/test-config")
	g.Expect(updated.AuthorName).To(Equal("bob"))
	g.Expect(updated.Trailers).To(HaveKeyWithValue("Kubernetes-Operation", "UPDATE"))
	if source == "audit" {
		g.Expect(updated.Trailers).To(HaveKeyWithValue("Kubernetes-Impersonated-By", "admin"))
	}
	g.Expect(files(t, repo, "live-cluster")[path]).To(ContainSubstring("key: changed"))

	kubectlAs(t, alice, "", "delete", "configmap", "test-config", "-n", ns)
	deleted := eventuallyOneCommit(t, repo, "[DELETE] configmaps "+ns+"/test-config")
	g.Expect(deleted.AuthorName).To(Equal("alice"))
	g.Expect(deleted.Trailers).To(HaveKeyWithValue("Kubernetes-Operation", "DELETE"))
	g.Expect(files(t, repo, "live-cluster")).NotTo(HaveKey(path))
	g.Expect(commits(t, repo)).NotTo(ContainElement(HaveField("AuthorName", "unattributed")))
	gitserver.Fsck(t, repo.Dir)

	g.Eventually(func() string {
		return kubectl(t, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns, "-o", "jsonpath={.status.lastCommit}")
	}).WithTimeout(10 * time.Second).ShouldNot(BeEmpty())
}

// eventuallyOneCommit waits until the remote has exactly one commit with the subject and returns
// it.
func eventuallyOneCommit(t *testing.T, repo *gitserver.SSHRepo, subject string) commit {
	t.Helper()
	var found []commit
	NewWithT(t).Eventually(func() []commit {
		found = withSubject(t, repo, subject)
		return found
	}).WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).Should(HaveLen(1), "a commit %q on the remote", subject)
	return found[0]
}
