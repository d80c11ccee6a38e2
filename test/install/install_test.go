package install

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
)

func kubectl(t *testing.T, env *controlplane.Env, kubeconfig string, stdin []byte, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), env.Kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String() + errOut.String(), fmt.Errorf("kubectl %s: %s: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

func TestInstallWithKubectlThenQuickStart(t *testing.T) {
	g := NewWithT(t)
	env, err := controlplane.Start(t.Context(), controlplane.Options{WithoutCRDs: true})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(env.WriteKubeconfig(kubeconfig)).To(Succeed())
	root, err := controlplane.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())

	out, err := kubectl(t, env, kubeconfig, nil, "apply", "-f", filepath.Join("testdata", "cert-manager-crds.yaml"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = kubectl(t, env, kubeconfig, nil, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/issuers.cert-manager.io", "crd/certificates.cert-manager.io")
	g.Expect(err).NotTo(HaveOccurred(), out)

	install, err := kubectl(t, env, kubeconfig, nil, "kustomize", filepath.Join(root, "config", "default"))
	g.Expect(err).NotTo(HaveOccurred(), install)
	out, err = kubectl(t, env, kubeconfig, []byte(install), "apply", "--server-side", "-f", "-")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("validatingwebhookconfiguration.admissionregistration.k8s.io/gitops-reverser-attribution serverside-applied"))
	g.Expect(out).To(ContainSubstring("validatingwebhookconfiguration.admissionregistration.k8s.io/gitops-reverser-escalation serverside-applied"))
	g.Expect(out).To(ContainSubstring("certificate.cert-manager.io/gitops-reverser-serving-cert serverside-applied"))
	g.Expect(out).To(ContainSubstring("customresourcedefinition.apiextensions.k8s.io/gitproviders.configbutler.ai serverside-applied"))
	g.Expect(out).To(ContainSubstring("deployment.apps/gitops-reverser-controller-manager serverside-applied"))
	out, err = kubectl(t, env, kubeconfig, nil, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/gitproviders.configbutler.ai", "crd/gittargets.configbutler.ai",
		"crd/watchrules.configbutler.ai", "crd/clusterwatchrules.configbutler.ai")
	g.Expect(err).NotTo(HaveOccurred(), out)

	// No kubelet runs the operator here, so nobody answers the escalation check, and with
	// failurePolicy Fail our kinds are refused, saying which webhook failed: what a person sees
	// who applies the quick start before the operator is ready. test/e2e runs the quick start
	// through the check with the operator up; here it is taken out to test the manifests alone.
	out, err = kubectl(t, env, kubeconfig, nil, "apply", "-n", "default", "-k", filepath.Join(root, "config", "samples"))
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring(`failed calling webhook "escalation.configbutler.ai"`))
	out, err = kubectl(t, env, kubeconfig, nil, "delete", "validatingwebhookconfiguration", "gitops-reverser-escalation")
	g.Expect(err).NotTo(HaveOccurred(), out)

	// The quick start, as a person runs it: kubectl apply of the seed's objects.
	g.Eventually(func() error {
		out, err = kubectl(t, env, kubeconfig, nil, "apply", "-n", "default", "-k", filepath.Join(root, "config", "samples"))
		return err
	}).WithTimeout(30*time.Second).Should(Succeed(), func() string { return out })
	g.Expect(out).To(ContainSubstring("gitprovider.configbutler.ai/your-repo created"))
	g.Expect(out).To(ContainSubstring("gittarget.configbutler.ai/to-folder-live-cluster created"))
	g.Expect(out).To(ContainSubstring("watchrule.configbutler.ai/only-configmaps created"))
	g.Expect(out).To(ContainSubstring("clusterwatchrule.configbutler.ai/cluster-config created"))

	// Readiness at a glance: the Ready status and its reason are columns of kubectl get.
	provider := &configv1alpha1.GitProvider{}
	g.Expect(env.Client.Get(t.Context(), keyOf("default", "your-repo"), provider)).To(Succeed())
	provider.Status.Conditions = []metav1.Condition{{
		Type: configv1alpha1.ReadyCondition, Status: metav1.ConditionFalse, Reason: configv1alpha1.ReasonHostKeyMismatch,
		Message: "host key of github.com is not in known_hosts", LastTransitionTime: metav1.Now(),
	}}
	g.Expect(env.Client.Status().Update(t.Context(), provider)).To(Succeed())

	out, err = kubectl(t, env, kubeconfig, nil, "get", "-n", "default", "gitprovider,gittarget,watchrule")
	g.Expect(err).NotTo(HaveOccurred(), out)
	lines := strings.Split(out, "\n")
	g.Expect(lines[0]).To(MatchRegexp(`^NAME\s+URL\s+READY\s+REASON\s+AGE$`))
	g.Expect(out).To(MatchRegexp(`gitprovider.configbutler.ai/your-repo\s+git@github.com:YOUR_USERNAME/my-k8s-audit.git\s+False\s+HostKeyMismatch`))
	g.Expect(out).To(MatchRegexp(`NAME\s+PROVIDER\s+BRANCH\s+PATH\s+READY\s+REASON\s+AGE`))
	g.Expect(out).To(MatchRegexp(`gittarget.configbutler.ai/to-folder-live-cluster\s+your-repo\s+test-gitops-reverser\s+live-cluster`))
	g.Expect(out).To(MatchRegexp(`NAME\s+TARGET\s+READY\s+REASON\s+AGE`))

	out, err = kubectl(t, env, kubeconfig, nil, "get", "-n", "default", "gitprovider", "-o", "wide")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("host key of github.com is not in known_hosts"))

	out, err = kubectl(t, env, kubeconfig, nil, "get", "gitops-reverser", "-A")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("clusterwatchrule.configbutler.ai/cluster-config"))
	g.Expect(out).To(ContainSubstring("gitprovider.configbutler.ai/your-repo"))
}
