package install

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

// operatorBinary is the operator built once for the package, with the race detector.
var operatorBinary string

func TestMain(m *testing.M) {
	os.Exit(stack.WithOperator(true, func(binary string) int {
		operatorBinary = binary
		return m.Run()
	}))
}

// installed is what an install put in the cluster that running its operator needs.
type installed struct {
	namespace, service string
	webhooks           []string
	deployment         *appsv1.Deployment
}

func deploymentOf(t *testing.T, manifests []byte, name string) *appsv1.Deployment {
	t.Helper()
	for _, doc := range bytes.Split(manifests, []byte("\n---")) {
		d := &appsv1.Deployment{}
		if err := yaml.Unmarshal(doc, d); err == nil && d.Kind == "Deployment" && d.Name == name {
			return d
		}
	}
	t.Fatalf("no Deployment %s in the manifests", name)
	return nil
}

// expectRestrictedPod: the pod meets the restricted Pod Security Standard, and has what a
// production Deployment needs.
func expectRestrictedPod(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	g := NewWithT(t)
	pod := d.Spec.Template.Spec
	g.Expect(pod.SecurityContext.RunAsNonRoot).To(HaveValue(BeTrue()))
	g.Expect(pod.SecurityContext.SeccompProfile.Type).To(BeEquivalentTo("RuntimeDefault"))
	g.Expect(pod.Affinity.PodAntiAffinity).NotTo(BeNil())
	g.Expect(pod.Containers).To(HaveLen(1))
	c := pod.Containers[0]
	g.Expect(c.SecurityContext.AllowPrivilegeEscalation).To(HaveValue(BeFalse()))
	g.Expect(c.SecurityContext.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()))
	g.Expect(c.SecurityContext.Capabilities.Drop).To(ConsistOf(BeEquivalentTo("ALL")))
	g.Expect(c.SecurityContext.Capabilities.Add).To(BeEmpty())
	g.Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
	g.Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
	g.Expect(c.Resources.Requests.Cpu().IsZero()).To(BeFalse())
	g.Expect(c.Resources.Requests.Memory().IsZero()).To(BeFalse())
	g.Expect(c.Args).To(ContainElement("--leader-elect"))
}

// runOperator runs the operator's binary with the Deployment's arguments, as the kubelet would,
// with what differs outside a pod added: the kubeconfig, local ports and directories, and the
// namespace the downward API gives. An EndpointSlice for the webhook Service points the API
// server at it, as the EndpointSlice controller would for a ready pod. It returns when the
// operator is ready, having checked that it serves the webhooks with a certificate for the
// Service, signed by the CA it injected into every webhook configuration.
func (inst installed) runOperator(t *testing.T, env *controlplane.Env, kubeconfig string) {
	t.Helper()
	g := NewWithT(t)
	ip, err := stack.HostIP()
	g.Expect(err).NotTo(HaveOccurred())
	port, err := stack.FreePort()
	g.Expect(err).NotTo(HaveOccurred())
	probes, err := stack.FreePort()
	g.Expect(err).NotTo(HaveOccurred())
	args := append(append([]string(nil), inst.deployment.Spec.Template.Spec.Containers[0].Args...),
		"--webhook-host="+ip.String(), "--webhook-port="+strconv.Itoa(port),
		"--webhook-cert-dir="+filepath.Join(t.TempDir(), "certs"),
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(probes), "--metrics-bind-address=0",
		"--work-dir="+t.TempDir())
	op, err := stack.StartOperatorIn("", []string{"POD_NAMESPACE=" + inst.namespace}, operatorBinary, kubeconfig,
		filepath.Join(t.TempDir(), "operator.log"), args...)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		if err := op.Stop(30 * time.Second); err != nil {
			t.Errorf("operator: %v", err)
		}
		if t.Failed() {
			t.Logf("operator log (last lines):\n%s", strings.Join(stack.LogTail(op.Log, 80), "\n"))
		}
	})
	g.Expect(env.Client.Create(t.Context(), stack.WebhookEndpoint(inst.namespace, inst.service, "local", ip, port))).To(Succeed())

	// Ready: the certificate was made, written and injected, and the webhooks are served.
	g.Eventually(func() int {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", probes)) //nolint:gosec // loopback
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}).WithTimeout(90*time.Second).WithPolling(250*time.Millisecond).Should(Equal(http.StatusOK), func() string {
		return strings.Join(stack.LogTail(op.Log, 40), "\n")
	})
	var ca []byte
	for _, name := range inst.webhooks {
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		g.Expect(env.Client.Get(t.Context(), keyOf("", name), cfg)).To(Succeed())
		for _, w := range cfg.Webhooks {
			g.Expect(w.ClientConfig.CABundle).NotTo(BeEmpty(), "%s: %s has no caBundle", name, w.Name)
			ca = w.ClientConfig.CABundle
		}
	}
	pool := x509.NewCertPool()
	g.Expect(pool.AppendCertsFromPEM(ca)).To(BeTrue())
	dns := inst.service + "." + inst.namespace + ".svc"
	conn, err := tls.Dial("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)), &tls.Config{RootCAs: pool, ServerName: dns, MinVersion: tls.VersionTLS12})
	g.Expect(err).NotTo(HaveOccurred(), "the webhook server's certificate is for %s and signed by the injected CA", dns)
	conn.Close()
	_, err = tls.Dial("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)), &tls.Config{RootCAs: pool, ServerName: "elsewhere.example", MinVersion: tls.VersionTLS12})
	var hostErr x509.HostnameError
	g.Expect(errors.As(err, &hostErr)).To(BeTrue(), "the certificate names the Service only: %v", err)
}
