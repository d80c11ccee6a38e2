package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// TestCommitSubjectsFollowTheTemplateAndTrailersStay: a GitProvider's commitSubject names the
// subject of its targets' change commits, a GitTarget's wins over it, the trailers stay as they
// are, and a template that cannot render is refused when it is applied.
func TestCommitSubjectsFollowTheTemplateAndTrailersStay(t *testing.T) {
	g := NewWithT(t)
	ns := "commit-subject"
	repo := gitserver.NewSSHRepo(t, "commit-subject")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	alice := teamMember(t, ns, "alice")

	out, err := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "patch", "gittarget", "to-folder-live-cluster", "-n", ns,
		"--type", "merge", "-p", `{"spec":{"commitSubject":"{{.Kind}} changed"}}`)
	g.Expect(err).To(HaveOccurred(), "an invalid template is refused at admission")
	g.Expect(out).To(ContainSubstring(`spec.commitSubject: commit subject template: template: subject:1:2: executing "subject" at <.Kind>: can't evaluate field Kind`))

	kubectl(t, "", "patch", "gitprovider", "your-repo", "-n", ns, "--type", "merge",
		"-p", `{"spec":{"commitSubject":"{{.User}}: {{lower .Operation}} {{.Object}}"}}`)
	// The target takes the provider's change on its next reconcile: until then a change may still
	// get the default subject. Probes until one has the new one.
	g.Eventually(func() bool {
		name := fmt.Sprintf("probe-%d", time.Now().UnixNano())
		kubectlAs(t, alice, "", "create", "configmap", name, "--from-literal=k=v", "-n", ns)
		var subject string
		g.Eventually(func() string {
			for _, c := range commits(t, repo) {
				if c.Trailers["Kubernetes-Object"] == ns+"/"+name {
					subject = c.Subject
				}
			}
			return subject
		}).WithTimeout(30 * time.Second).ShouldNot(BeEmpty())
		return subject == "alice: create "+ns+"/"+name
	}).WithTimeout(60 * time.Second).Should(BeTrue())
	kubectlAs(t, alice, "", "create", "configmap", "templated", "--from-literal=k=v", "-n", ns)
	created := eventuallyOneCommit(t, repo, "alice: create "+ns+"/templated")
	g.Expect(created).To(MatchFields(IgnoreExtras, Fields{
		"AuthorName": Equal("alice"),
		"Trailers": MatchKeys(IgnoreExtras, Keys{
			"Kubernetes-User":      Equal("alice"),
			"Kubernetes-Operation": Equal("CREATE"),
			"Kubernetes-Resource":  Equal("v1, Resource=configmaps"),
			"Kubernetes-Object":    Equal(ns + "/templated"),
			"GitTarget":            Equal(ns + "/to-folder-live-cluster"),
		}),
	}))

	kubectl(t, "", "patch", "gittarget", "to-folder-live-cluster", "-n", ns, "--type", "merge",
		"-p", `{"spec":{"commitSubject":"{{upper .Operation}} {{.Name}} ({{.Resource}}) by {{.User}}"}}`)
	g.Eventually(func() string {
		return kubectl(t, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns, "-o",
			`jsonpath={.status.observedGeneration} {.metadata.generation}`)
	}).WithTimeout(10 * time.Second).Should(Satisfy(func(s string) bool {
		f := strings.Fields(s)
		return len(f) == 2 && f[0] == f[1]
	}))
	kubectl(t, "", "patch", "configmap", "templated", "-n", ns, "--as", "bob", "--as-group", "team-a",
		"--type", "merge", "-p", `{"data":{"k":"changed"}}`)
	eventuallyOneCommit(t, repo, "UPDATE templated (configmaps) by bob")
	g.Expect(commits(t, repo)).To(ContainElement(HaveField("Subject", HavePrefix("[RECONCILE]"))), "reconcile commits keep their subject")
	gitserver.Fsck(t, repo.Dir)
}
