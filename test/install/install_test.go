package install

import (
	"bytes"
	"fmt"
	"os"
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

// helm runs Helm at the version the Makefile pins, through go run: no Debian package has it.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "go", append([]string{"run", "helm.sh/helm/v3/cmd/helm@v3.22.0"}, args...)...)
	cmd.Dir = root
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// A control plane as an empty cluster: no CRDs, and webhooks reached through their Service's
// EndpointSlices (as a cluster's API server reaches them through kube-proxy), so that the
// manifests' Service, ports and certificate names are what is tested.
func emptyCluster(t *testing.T) (*controlplane.Env, string) {
	t.Helper()
	env, err := controlplane.Start(t.Context(), controlplane.Options{
		WithoutCRDs:    true,
		APIServerFlags: map[string]string{"enable-aggregator-routing": "true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	return env, kubeconfig
}

// The seed's install, `kubectl apply -f .../install.yaml`, on a cluster without cert-manager;
// then the operator started with the Deployment's own arguments serves its webhooks with the
// certificate it made, and the quick start goes through them.
func TestInstallYAMLThenQuickStart(t *testing.T) {
	g := NewWithT(t)
	env, kubeconfig := emptyCluster(t)
	root, err := controlplane.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	manifests, err := os.ReadFile(filepath.Join(root, "dist", "install.yaml"))
	g.Expect(err).NotTo(HaveOccurred())

	out, err := kubectl(t, env, kubeconfig, nil, "apply", "-f", filepath.Join(root, "dist", "install.yaml"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	for _, applied := range []string{
		"customresourcedefinition.apiextensions.k8s.io/gitproviders.configbutler.ai created",
		"clusterrole.rbac.authorization.k8s.io/gitops-reverser-manager-role created",
		"secret/gitops-reverser-webhook-server-cert created",
		"validatingwebhookconfiguration.admissionregistration.k8s.io/gitops-reverser-attribution created",
		"validatingwebhookconfiguration.admissionregistration.k8s.io/gitops-reverser-escalation created",
		"deployment.apps/gitops-reverser-controller-manager created",
		"poddisruptionbudget.policy/gitops-reverser-controller-manager created",
	} {
		g.Expect(out).To(ContainSubstring(applied))
	}
	g.Expect(out).NotTo(ContainSubstring("cert-manager"))
	inst := installed{
		namespace: "gitops-reverser-system", service: "gitops-reverser-webhook-service",
		webhooks: []string{"gitops-reverser-attribution", "gitops-reverser-escalation"},
	}
	inst.deployment = deploymentOf(t, manifests, "gitops-reverser-controller-manager")
	expectRestrictedPod(t, inst.deployment)
	g.Expect(inst.deployment.Spec.Replicas).To(HaveValue(BeEquivalentTo(3)))

	// Before any replica is ready nobody answers the escalation check, and with failurePolicy
	// Fail our kinds are refused, saying which webhook failed: taking the operator down never
	// bypasses the check.
	out, err = kubectl(t, env, kubeconfig, nil, "apply", "-n", "default", "-k", filepath.Join(root, "config", "samples"))
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring(`failed calling webhook "escalation.configbutler.ai"`))

	inst.runOperator(t, env, kubeconfig)
	quickStart(t, env, kubeconfig)
}

// The Helm chart with its defaults, rendered by Helm and applied: the same install, named after
// the release.
func TestHelmChartThenQuickStart(t *testing.T) {
	g := NewWithT(t)
	helm(t, "lint", "--strict", "charts/gitops-reverser")
	manifests := helm(t, "template", "gr", "charts/gitops-reverser", "--namespace", "gitops-system")
	env, kubeconfig := emptyCluster(t)
	out, err := kubectl(t, env, kubeconfig, nil, "create", "namespace", "gitops-system")
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = kubectl(t, env, kubeconfig, []byte(manifests), "apply", "-f", "-")
	g.Expect(err).NotTo(HaveOccurred(), out)
	for _, applied := range []string{
		"customresourcedefinition.apiextensions.k8s.io/watchrules.configbutler.ai created",
		"clusterrole.rbac.authorization.k8s.io/gr-gitops-reverser-manager created",
		"secret/gr-gitops-reverser-webhook-server-cert created",
		"validatingwebhookconfiguration.admissionregistration.k8s.io/gr-gitops-reverser-attribution created",
		"validatingwebhookconfiguration.admissionregistration.k8s.io/gr-gitops-reverser-escalation created",
		"deployment.apps/gr-gitops-reverser created",
		"poddisruptionbudget.policy/gr-gitops-reverser created",
	} {
		g.Expect(out).To(ContainSubstring(applied))
	}
	crd, err := kubectl(t, env, kubeconfig, nil, "get", "crd", "gittargets.configbutler.ai", "-o", "jsonpath={.metadata.annotations}")
	g.Expect(err).NotTo(HaveOccurred(), crd)
	g.Expect(crd).To(ContainSubstring(`"helm.sh/resource-policy":"keep"`))
	inst := installed{
		namespace: "gitops-system", service: "gr-gitops-reverser-webhook-service",
		webhooks: []string{"gr-gitops-reverser-attribution", "gr-gitops-reverser-escalation"},
	}
	inst.deployment = deploymentOf(t, []byte(manifests), "gr-gitops-reverser")
	expectRestrictedPod(t, inst.deployment)

	inst.runOperator(t, env, kubeconfig)
	quickStart(t, env, kubeconfig)
}

// cert-manager stays an option, in both installs: its Certificate replaces the shipped Secret,
// and its CA injector the operator's.
func TestCertManagerIsAnOption(t *testing.T) {
	g := NewWithT(t)
	root, err := controlplane.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	chart := helm(t, "template", "gr", "charts/gitops-reverser", "--namespace", "gitops-system", "--set", "certManager.enabled=true",
		"--set", "crds.enabled=false", "--set", "serviceMonitor.enabled=false")
	env, kubeconfig := emptyCluster(t)
	out, err := kubectl(t, env, kubeconfig, nil, "apply", "-f", filepath.Join("testdata", "cert-manager-crds.yaml"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = kubectl(t, env, kubeconfig, nil, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/issuers.cert-manager.io", "crd/certificates.cert-manager.io")
	g.Expect(err).NotTo(HaveOccurred(), out)

	out, err = kubectl(t, env, kubeconfig, nil, "apply", "--server-side", "-k", filepath.Join(root, "config", "cert-manager"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("certificate.cert-manager.io/gitops-reverser-serving-cert serverside-applied"))
	g.Expect(out).NotTo(ContainSubstring("secret/"))
	hooks, err := kubectl(t, env, kubeconfig, nil, "get", "validatingwebhookconfiguration", "gitops-reverser-escalation",
		"-o", "jsonpath={.metadata.annotations.cert-manager\\.io/inject-ca-from}")
	g.Expect(err).NotTo(HaveOccurred(), hooks)
	g.Expect(hooks).To(Equal("gitops-reverser-system/gitops-reverser-serving-cert"))
	args, err := kubectl(t, env, kubeconfig, nil, "get", "deployment", "gitops-reverser-controller-manager", "-n", "gitops-reverser-system",
		"-o", "jsonpath={.spec.template.spec.containers[0].args}")
	g.Expect(err).NotTo(HaveOccurred(), args)
	g.Expect(args).NotTo(ContainSubstring("--webhook-cert-secret"))

	out, err = kubectl(t, env, kubeconfig, nil, "create", "namespace", "gitops-system")
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = kubectl(t, env, kubeconfig, []byte(chart), "apply", "-f", "-")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("certificate.cert-manager.io/gr-gitops-reverser-serving-cert created"))
	g.Expect(out).NotTo(ContainSubstring("secret/"))
	g.Expect(deploymentOf(t, []byte(chart), "gr-gitops-reverser").Spec.Template.Spec.Containers[0].Args).
		To(ContainElement("--webhook-cert-dir=/etc/gitops-reverser/webhook-certs"))
}

// quickStart applies the seed's objects with kubectl, through the operator's escalation check,
// and shows them with their status columns; then a user who may not read Secrets is refused a
// WatchRule for them, which only the operator's webhook, reached through the Service with the
// certificate it made, can say.
func quickStart(t *testing.T, env *controlplane.Env, kubeconfig string) {
	t.Helper()
	g := NewWithT(t)
	root, err := controlplane.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	var out string
	g.Eventually(func() error {
		out, err = kubectl(t, env, kubeconfig, nil, "apply", "-n", "default", "-k", filepath.Join(root, "config", "samples"))
		return err
	}).WithTimeout(30*time.Second).Should(Succeed(), func() string { return out })
	g.Expect(out).To(ContainSubstring("gitprovider.configbutler.ai/your-repo created"))
	g.Expect(out).To(ContainSubstring("gittarget.configbutler.ai/to-folder-live-cluster created"))
	g.Expect(out).To(ContainSubstring("watchrule.configbutler.ai/only-configmaps created"))
	g.Expect(out).To(ContainSubstring("clusterwatchrule.configbutler.ai/cluster-config created"))

	// The GitProvider points at github.com, which this machine cannot reach: its Ready column
	// says why, as the operator found it.
	g.Eventually(func() string {
		out, _ = kubectl(t, env, kubeconfig, nil, "get", "-n", "default", "gitprovider", "your-repo", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		return out
	}).WithTimeout(60 * time.Second).Should(Equal("False"))
	out, err = kubectl(t, env, kubeconfig, nil, "get", "-n", "default", "gitprovider,gittarget,watchrule")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(strings.Split(out, "\n")[0]).To(MatchRegexp(`^NAME\s+URL\s+READY\s+REASON\s+AGE$`))
	g.Expect(out).To(MatchRegexp(`gitprovider.configbutler.ai/your-repo\s+git@github.com:YOUR_USERNAME/my-k8s-audit.git\s+False\s+\S+`))
	g.Expect(out).To(MatchRegexp(`gittarget.configbutler.ai/to-folder-live-cluster\s+your-repo\s+test-gitops-reverser\s+live-cluster`))
	out, err = kubectl(t, env, kubeconfig, nil, "get", "gitops-reverser", "-A")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("clusterwatchrule.configbutler.ai/cluster-config"))

	user := filepath.Join(t.TempDir(), "mallory.kubeconfig")
	g.Expect(env.WriteUserKubeconfig(user, "mallory")).To(Succeed())
	for _, args := range [][]string{
		{"create", "role", "rules", "-n", "default", "--verb=*", "--resource=watchrules.configbutler.ai"},
		{"create", "rolebinding", "mallory", "-n", "default", "--role=rules", "--user=mallory"},
	} {
		out, err = kubectl(t, env, kubeconfig, nil, args...)
		g.Expect(err).NotTo(HaveOccurred(), out)
	}
	rule := strings.NewReplacer("only-configmaps", "leak", "configmaps", "secrets").Replace(readFile(t, filepath.Join(root, "config", "samples", "watchrule.yaml")))
	out, err = kubectl(t, env, user, []byte(rule), "apply", "-n", "default", "-f", "-")
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring(`admission webhook "escalation.configbutler.ai" denied the request: WatchRule default/leak would let gitops-reverser do for "mallory" what they may not do themselves`))

	// Readiness at a glance survives the install: the columns of kubectl get -o wide.
	provider := &configv1alpha1.GitProvider{}
	g.Expect(env.Client.Get(t.Context(), keyOf("default", "your-repo"), provider)).To(Succeed())
	g.Expect(provider.Status.Conditions).To(ContainElement(HaveField("Type", configv1alpha1.ReadyCondition)))
	g.Expect(metav1.HasAnnotation(provider.ObjectMeta, "kubectl.kubernetes.io/last-applied-configuration")).To(BeTrue())
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
