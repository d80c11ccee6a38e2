package escalation

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

func TestRuleGrantsFollowTheDirectionAndTheServedGroups(t *testing.T) {
	g := NewWithT(t)
	w := &configv1alpha1.WatchRule{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "r"}, Spec: configv1alpha1.WatchRuleSpec{
		Rules: []configv1alpha1.ResourceRule{
			{Resources: []string{"configmaps"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, SyncTo: configv1alpha1.SyncToKubernetes},
			{Resources: []string{"*"}},
		},
	}}
	served := func(resource string) []string {
		if resource == "configmaps" {
			return []string{""}
		}
		return nil
	}
	got := []string{}
	for _, p := range dedupe(WatchRuleGrants(w, served)) {
		got = append(got, p.String()+" <- "+p.Because)
	}
	g.Expect(got).To(Equal([]string{
		"get configmaps in namespace team <- rule 1 of WatchRule team/r",
		"list configmaps in namespace team <- rule 1 of WatchRule team/r",
		"watch configmaps in namespace team <- rule 1 of WatchRule team/r",
		"get deployments.apps in namespace team <- rule 2 of WatchRule team/r",
		"list deployments.apps in namespace team <- rule 2 of WatchRule team/r",
		"watch deployments.apps in namespace team <- rule 2 of WatchRule team/r",
		"create deployments.apps in namespace team <- rule 2 of WatchRule team/r",
		"update deployments.apps in namespace team <- rule 2 of WatchRule team/r",
		"patch deployments.apps in namespace team <- rule 2 of WatchRule team/r",
		"delete deployments.apps in namespace team <- rule 2 of WatchRule team/r",
		"get *.* in namespace team <- rule 3 of WatchRule team/r",
		"list *.* in namespace team <- rule 3 of WatchRule team/r",
		"watch *.* in namespace team <- rule 3 of WatchRule team/r",
	}))

	// A resource no group serves yet is checked for every group; a ClusterWatchRule in every namespace.
	c := &configv1alpha1.ClusterWatchRule{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: configv1alpha1.ClusterWatchRuleSpec{
		Rules: []configv1alpha1.ClusterResourceRule{{ResourceRule: configv1alpha1.ResourceRule{Resources: []string{"widgets"}}}},
	}}
	g.Expect(ClusterWatchRuleGrants(c, served)[0].String()).To(Equal("get widgets.* in every namespace"))
}

func TestReferencesNeedTheirSecretsAndRedirectsAreSeen(t *testing.T) {
	g := NewWithT(t)
	p := &configv1alpha1.GitProvider{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "p"}, Spec: configv1alpha1.GitProviderSpec{
		URL: "ssh://git@example/x.git", SecretRef: &configv1alpha1.LocalObjectReference{Name: "creds"},
		KnownHosts: &configv1alpha1.KnownHostsSource{ConfigMapRef: &configv1alpha1.ConfigMapKeyReference{Name: "hosts"}},
		Webhook:    &configv1alpha1.PushWebhook{SecretRef: configv1alpha1.SecretKeyReference{Name: "token"}},
	}}
	var got []string
	for _, perm := range GitProviderRefs(p) {
		got = append(got, perm.String()+" <- "+perm.Because)
	}
	g.Expect(got).To(Equal([]string{
		"get secrets team/creds <- spec.secretRef of GitProvider team/p",
		"get configmaps team/hosts <- spec.knownHosts.configMapRef of GitProvider team/p",
		"get secrets team/token <- spec.webhook.secretRef of GitProvider team/p",
	}))
	moved := p.DeepCopy()
	g.Expect(GitProviderRedirects(p, moved)).To(BeFalse())
	moved.Spec.URL = "ssh://git@elsewhere/x.git"
	g.Expect(GitProviderRedirects(p, moved)).To(BeTrue())

	tgt := &configv1alpha1.GitTarget{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "t"}, Spec: configv1alpha1.GitTargetSpec{
		Branch: "main", Path: "a",
		Encryption: &configv1alpha1.EncryptionSpec{SecretRef: &configv1alpha1.LocalObjectReference{Name: "keys"},
			Age: &configv1alpha1.AgeEncryption{Enabled: true, Recipients: configv1alpha1.AgeRecipients{GenerateWhenMissing: true}}},
	}}
	got = nil
	for _, perm := range GitTargetRefs(tgt) {
		got = append(got, perm.String())
	}
	g.Expect(got).To(Equal([]string{"get secrets team/keys", "update secrets team/keys", "create secrets in namespace team"}))
	interval := tgt.DeepCopy()
	interval.Spec.Interval = &metav1.Duration{}
	g.Expect(GitTargetRedirects(tgt, interval)).To(BeFalse())
	recipient := tgt.DeepCopy()
	recipient.Spec.Encryption.Age.Recipients.PublicKeys = []string{"age1..."}
	g.Expect(GitTargetRedirects(tgt, recipient)).To(BeTrue())

	remote := tgt.DeepCopy()
	remote.Spec.KubeConfig = &configv1alpha1.KubeConfigReference{SecretRef: configv1alpha1.SecretKeyReference{Name: "edge-1"}}
	g.Expect(GitTargetRedirects(tgt, remote)).To(BeTrue(), "another cluster")
	g.Expect(GitTargetRefs(remote)).To(ContainElement(HaveField("Because", "spec.kubeConfig.secretRef of GitTarget team/t")))
	g.Expect(GitTargetRefs(remote)[0].String()).To(Equal("get secrets team/edge-1"))
}
