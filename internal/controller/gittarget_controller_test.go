package controller

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

func createTarget(t *testing.T, ns, name, provider, branch, path string) {
	t.Helper()
	NewWithT(t).Expect(env.Client.Create(t.Context(), &configv1alpha1.GitTarget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: configv1alpha1.GitTargetSpec{
			ProviderRef: configv1alpha1.LocalObjectReference{Name: provider}, Branch: branch, Path: path,
		},
	})).To(Succeed())
}

func targetReady(t *testing.T, ns, name string) func() string {
	target := &configv1alpha1.GitTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	return readyOf(t, target, func() []metav1.Condition { return target.Status.Conditions })
}

// connectedProvider creates a GitProvider for a real repository over SSH and waits until it is Ready.
func connectedProvider(t *testing.T, ns, name string, allowed ...string) *gitserver.SSHRepo {
	t.Helper()
	ssh := newSSH(t)
	createSecret(t, ns, "git-creds", map[string][]byte{"ssh-privatekey": ssh.Key.PrivateKeyPEM, "known_hosts": []byte(ssh.Server.KnownHosts())})
	createProvider(t, ns, name, ssh.URL, func(p *configv1alpha1.GitProvider) { p.Spec.AllowedBranches = allowed })
	NewWithT(t).Eventually(providerReady(t, ns, name)).WithTimeout(30 * time.Second).Should(HavePrefix("True Connected"))
	return ssh
}

func TestGitTargetOnAnAllowedBranchIsReady(t *testing.T) {
	ns := newNamespace(t)
	connectedProvider(t, ns, "your-repo", "*")
	createTarget(t, ns, "to-folder-live-cluster", "your-repo", "test-gitops-reverser", "live-cluster")
	NewWithT(t).Eventually(targetReady(t, ns, "to-folder-live-cluster")).WithTimeout(30 * time.Second).
		Should(Equal("True Synced: the folder holds the watched objects: branch test-gitops-reverser, folder live-cluster"))
}

func TestGitTargetOnADisallowedBranchIsNotReadyAndWritesNothing(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	ssh := connectedProvider(t, ns, "repo", "main", "env/*")
	createTarget(t, ns, "sneaky", "repo", "hotfix", "live")
	g.Eventually(targetReady(t, ns, "sneaky")).WithTimeout(30 * time.Second).
		Should(Equal("False BranchNotAllowed: branch hotfix does not match allowedBranches [main env/*] of GitProvider repo"))
	g.Expect(gitserver.Refs(t, ssh.Dir)).To(BeEmpty())

	// Allowing the branch on the provider is enough.
	p := &configv1alpha1.GitProvider{}
	g.Expect(env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "repo"}, p)).To(Succeed())
	patch := client.MergeFrom(p.DeepCopy())
	p.Spec.AllowedBranches = append(p.Spec.AllowedBranches, "hotfix")
	g.Expect(env.Client.Patch(t.Context(), p, patch)).To(Succeed())
	g.Eventually(targetReady(t, ns, "sneaky")).WithTimeout(30 * time.Second).Should(HavePrefix("True Synced"))
}

func TestGitTargetWaitsForItsProvider(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	createTarget(t, ns, "early", "later", "main", "live")
	g.Eventually(targetReady(t, ns, "early")).WithTimeout(30 * time.Second).
		Should(Equal(fmt.Sprintf("False ProviderNotFound: GitProvider later not found in namespace %s", ns)))

	// A provider that cannot connect: the target says why.
	createProvider(t, ns, "later", "ssh://git@127.0.0.1:1/nothing.git")
	g.Eventually(targetReady(t, ns, "early")).WithTimeout(30 * time.Second).
		Should(MatchRegexp(`^False ProviderNotReady: GitProvider later is not ready \(SecretNotFound\)`))
}

func TestOverlappingFoldersOnOneBranchConflict(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	connectedProvider(t, ns, "repo", "*")
	createTarget(t, ns, "first", "repo", "main", "clusters/prod")
	g.Eventually(targetReady(t, ns, "first")).WithTimeout(30 * time.Second).Should(HavePrefix("True"))
	time.Sleep(1100 * time.Millisecond) // creation timestamps have one-second resolution
	createTarget(t, ns, "second", "repo", "main", "clusters/prod/eu")
	createTarget(t, ns, "elsewhere", "repo", "main", "clusters/dev")
	g.Eventually(targetReady(t, ns, "second")).WithTimeout(30 * time.Second).Should(Equal(
		fmt.Sprintf("False PathConflict: folder clusters/prod/eu of branch main overlaps folder clusters/prod of GitTarget %s/first, which was there first", ns)))
	g.Eventually(targetReady(t, ns, "elsewhere")).WithTimeout(30 * time.Second).Should(HavePrefix("True"))
	g.Consistently(targetReady(t, ns, "first")).WithTimeout(2 * time.Second).Should(HavePrefix("True"))

	// When the first target goes, the second gets the folder.
	g.Expect(env.Client.Delete(t.Context(), &configv1alpha1.GitTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "first"}})).To(Succeed())
	g.Eventually(targetReady(t, ns, "second")).WithTimeout(30 * time.Second).Should(HavePrefix("True"))
}

// Without the validating webhook (escalation check off) a commit subject template that cannot
// render still reaches the controller: the target stops and says why, until it is fixed.
func TestGitTargetWithACommitSubjectThatCannotRenderIsStalled(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	ssh := connectedProvider(t, ns, "repo", "*")
	g.Expect(env.Client.Create(t.Context(), &configv1alpha1.GitTarget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "templated"},
		Spec: configv1alpha1.GitTargetSpec{
			ProviderRef: configv1alpha1.LocalObjectReference{Name: "repo"}, Branch: "main", Path: "live",
			CommitSubject: "{{.Kind}}",
		},
	})).To(Succeed())
	g.Eventually(targetReady(t, ns, "templated")).WithTimeout(30 * time.Second).Should(Equal(
		`False InvalidCommitSubject: spec.commitSubject: commit subject template: template: subject:1:2: executing "subject" at <.Kind>: can't evaluate field Kind in type commitmsg.Fields`))
	g.Expect(gitserver.Refs(t, ssh.Dir)).To(BeEmpty(), "nothing written")

	target := &configv1alpha1.GitTarget{}
	g.Expect(env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "templated"}, target)).To(Succeed())
	patch := client.MergeFrom(target.DeepCopy())
	target.Spec.CommitSubject = "{{.Operation}} {{.Object}}"
	g.Expect(env.Client.Patch(t.Context(), target, patch)).To(Succeed())
	g.Eventually(targetReady(t, ns, "templated")).WithTimeout(30 * time.Second).Should(HavePrefix("True Synced"))
}
