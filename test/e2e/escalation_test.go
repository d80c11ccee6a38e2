package e2e

import (
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"
	. "github.com/onsi/gomega"
)

// A user who may manage our kinds in her namespace but may not read its Secrets cannot use them to
// get the Secrets anyway: not with a WatchRule of her own, not by adding her key to a target that
// an admin's rule writes Secrets to, not by pointing its GitProvider at her repository, and not by
// naming a Secret she may not read. What she may do herself still works.
func TestManagingOurKindsGrantsNothingTheAuthorLacks(t *testing.T) {
	g := NewWithT(t)
	const ns = "tenant"
	runOperator(t, "admission", t.TempDir())
	kubectl(t, "", "create", "namespace", ns)
	kubectl(t, "", "create", "role", "gitops", "-n", ns, "--verb=*",
		"--resource=gitproviders.configbutler.ai,gittargets.configbutler.ai,watchrules.configbutler.ai")
	kubectl(t, "", "create", "role", "configs", "-n", ns, "--verb=*", "--resource=configmaps")
	kubectl(t, "", "create", "rolebinding", "mallory", "-n", ns, "--role=gitops", "--user=mallory")
	kubectl(t, "", "create", "rolebinding", "mallory-configs", "-n", ns, "--role=configs", "--user=mallory")
	kubectl(t, "", "create", "secret", "generic", "team-creds", "-n", ns, "--from-literal=password=hunter2")
	mallory, err := cluster.UserKubeconfig("mallory")
	g.Expect(err).NotTo(HaveOccurred())
	as := func(manifest string) (string, error) {
		return cluster.Kubectl(t.Context(), mallory, manifest, "apply", "-n", ns, "-f", "-")
	}
	key, err := age.GenerateX25519Identity()
	g.Expect(err).NotTo(HaveOccurred())

	// Objects that grant nothing she lacks are admitted.
	out, err := as(`apiVersion: configbutler.ai/v1alpha1
kind: GitProvider
metadata: {name: mine}
spec:
  url: "ssh://git@git.mallory.example/loot.git"
  allowedBranches: ["*"]
`)
	g.Expect(err).NotTo(HaveOccurred(), out)
	target := fmt.Sprintf(`apiVersion: configbutler.ai/v1alpha1
kind: GitTarget
metadata: {name: mine}
spec:
  providerRef: {name: mine}
  branch: main
  path: loot
  encryption:
    provider: sops
    age:
      enabled: true
      recipients:
        publicKeys: [%q]
`, key.Recipient().String())
	out, err = as(target)
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = as(watchRule("configs", "mine", "configmaps"))
	g.Expect(err).NotTo(HaveOccurred(), out)

	// Her own WatchRule for Secrets.
	out, err = as(watchRule("leak", "mine", "secrets"))
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring(`denied the request: WatchRule tenant/leak would let gitops-reverser do for "mallory" what they may not do themselves: ` +
		`get secrets in namespace tenant (rule 1 of WatchRule tenant/leak); list secrets in namespace tenant (rule 1 of WatchRule tenant/leak); ` +
		`watch secrets in namespace tenant (rule 1 of WatchRule tenant/leak)`))
	// Changing her allowed rule into one for Secrets is the same request.
	out, err = as(watchRule("configs", "mine", "configmaps", "secrets"))
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("list secrets in namespace tenant (rule 1 of WatchRule tenant/configs)"))

	// Applying what she may not write herself, through a syncTo: kubernetes rule.
	out, err = as(strings.Replace(watchRule("escalate", "mine", "rolebindings"), "    - resources:", "    - syncTo: kubernetes\n      apiGroups: [rbac.authorization.k8s.io]\n      resources:", 1))
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("create rolebindings.rbac.authorization.k8s.io in namespace tenant (rule 1 of WatchRule tenant/escalate)"))

	// An admin's rule writes Secrets to her target: she may no longer redirect that target.
	kubectl(t, watchRule("admin-secrets", "mine", "secrets"), "apply", "-n", ns, "-f", "-")
	another, err := age.GenerateX25519Identity()
	g.Expect(err).NotTo(HaveOccurred())
	out, err = as(strings.Replace(target, "publicKeys: [", fmt.Sprintf("publicKeys: [%q, ", another.Recipient().String()), 1))
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("GitTarget tenant/mine would let gitops-reverser do for \"mallory\" what they may not do themselves: " +
		"get secrets in namespace tenant (rule 1 of WatchRule tenant/admin-secrets)"))
	out, err = cluster.Kubectl(t.Context(), mallory, "", "patch", "gittarget", "mine", "-n", ns, "--type=merge", "-p", `{"spec":{"path":"elsewhere"}}`)
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("rule 1 of WatchRule tenant/admin-secrets"))
	out, err = cluster.Kubectl(t.Context(), mallory, "", "patch", "gitprovider", "mine", "-n", ns, "--type=merge",
		"-p", `{"spec":{"url":"ssh://git@git.mallory.example/other.git"}}`)
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("GitProvider tenant/mine would let gitops-reverser do for \"mallory\" what they may not do themselves: " +
		"get secrets in namespace tenant (rule 1 of WatchRule tenant/admin-secrets)"))
	// What redirects nothing is hers to change: the interval, and annotations (no call at all).
	out, err = cluster.Kubectl(t.Context(), mallory, "", "patch", "gittarget", "mine", "-n", ns, "--type=merge", "-p", `{"spec":{"interval":"5m"}}`)
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = cluster.Kubectl(t.Context(), mallory, "", "annotate", "gittarget", "mine", "-n", ns, "configbutler.ai/reconcile-requested-at=now")
	g.Expect(err).NotTo(HaveOccurred(), out)

	// A Secret she may not read cannot be handed to a server of her choice as credentials.
	out, err = as(`apiVersion: configbutler.ai/v1alpha1
kind: GitProvider
metadata: {name: borrowed}
spec:
  url: "https://git.mallory.example/loot.git"
  allowedBranches: ["*"]
  secretRef: {name: team-creds}
`)
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("get secrets tenant/team-creds (spec.secretRef of GitProvider tenant/borrowed)"))

	// Nothing refused exists, and the admin's changes go through the same check untouched.
	for _, name := range []string{"watchrule/leak", "watchrule/escalate", "gitprovider/borrowed"} {
		g.Expect(kubectl(t, "", "get", name, "-n", ns, "--ignore-not-found", "-o", "name")).To(BeEmpty(), name)
	}
	g.Expect(kubectl(t, "", "get", "watchrule", "configs", "-n", ns, "-o", "jsonpath={.spec.rules[0].resources}")).To(Equal(`["configmaps"]`))
	g.Expect(kubectl(t, "", "patch", "gitprovider", "mine", "-n", ns, "--type=merge",
		"-p", `{"spec":{"url":"ssh://git@git.example/platform.git"}}`)).To(ContainSubstring("patched"))
}

func watchRule(name, target string, resources ...string) string {
	return fmt.Sprintf(`apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata: {name: %s}
spec:
  targetRef: {name: %s}
  rules:
    - resources: [%s]
`, name, target, strings.Join(resources, ", "))
}
