package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/tlsca"
)

// TestATargetCapturesFromAndAppliesToARemoteCluster: a GitTarget with spec.kubeConfig works on a
// second API server instead of the operator's own, both directions, with authors from that
// cluster's audit webhook; a kubeconfig the cluster refuses, one asking for an exec plugin and
// one that is gone each get a condition, the operator running on; fixing the kubeconfig catches
// up with what changed meanwhile.
func TestATargetCapturesFromAndAppliesToARemoteCluster(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(60 * time.Second) // the quick start pushes every 5s
	g.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	ns := "remote"
	const secretName, token = "edge-kubeconfig", "audit-token-of-edge-1"
	edge, err := stack.Start(t.Context(), stack.Options{
		AuditURL: cluster.URL(attribution.ClusterAuditPath + ns + "/" + secretName), AuditCA: cluster.CAPEM, AuditToken: token,
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = edge.Stop() })
	onEdge := func(kubeconfig, stdin string, args ...string) string {
		t.Helper()
		out, err := edge.Kubectl(t.Context(), kubeconfig, stdin, args...)
		g.Expect(err).NotTo(HaveOccurred())
		return out
	}
	getEdge := func(args ...string) string {
		out, _ := edge.Kubectl(t.Context(), edge.Kubeconfig, "", append([]string{"get", "-n", ns}, args...)...)
		return strings.TrimSpace(out)
	}
	onEdge(edge.Kubeconfig, "", "create", "namespace", ns)
	carol, err := edge.UserKubeconfig("carol", "system:masters")
	g.Expect(err).NotTo(HaveOccurred())

	// The edge cluster's admin kubeconfig, its cluster named edge-1 (the authors' domain).
	good := renamedKubeconfig(t, edge.Kubeconfig, "edge-1")
	setKubeconfig := func(kubeconfig []byte) {
		t.Helper()
		secret := kubectl(t, "", "create", "secret", "generic", secretName, "-n", ns,
			"--from-literal=value="+string(kubeconfig), "--from-literal=audit-token="+token, "--dry-run=client", "-o", "yaml")
		kubectl(t, secret, "apply", "-n", ns, "-f", "-")
	}
	ready := func() string {
		return kubectl(t, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns, "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason} {.status.conditions[?(@.type=="Ready")].message}`)
	}

	repo := gitserver.NewSSHRepo(t, "remote")
	op := runOperator(t, "admission", t.TempDir())
	kubectl(t, "", "create", "namespace", ns)
	kubectl(t, "", "create", "configmap", "local-only", "-n", ns, "--from-literal=k=v")
	quickStart(t, ns, repo)
	setKubeconfig(good)
	kubectl(t, "", "patch", "gittarget", "to-folder-live-cluster", "-n", ns, "--type", "merge",
		"-p", `{"spec":{"kubeConfig":{"secretRef":{"name":"`+secretName+`"}}}}`)
	g.Eventually(ready).Should(And(HavePrefix("True Synced"), ContainSubstring("cluster of "+secretName)))

	// Cluster → Git: the folder holds the edge cluster's ConfigMaps, not the operator's own.
	onEdge(carol, "", "create", "configmap", "edge-config", "-n", ns, "--from-literal=k=v1")
	created := eventuallyOneCommit(t, repo, "[CREATE] configmaps "+ns+"/edge-config")
	g.Expect(created).To(MatchFields(IgnoreExtras, Fields{
		"AuthorName": Equal("carol"), "AuthorEmail": Equal("carol@edge-1.kubernetes.invalid"),
		"Trailers": HaveKeyWithValue("Kubernetes-Cluster", ns+"/"+secretName),
	}))
	folder := "live-cluster/" + ns + "/configmaps/"
	g.Eventually(func() map[string]string { return files(t, repo, "live-cluster") }).Should(And(
		HaveKey(folder+"edge-config.yaml"), Not(HaveKey(folder+"local-only.yaml"))))

	// Git → cluster: applied to the edge cluster only.
	kubectl(t, fromGitRule, "apply", "-n", ns, "-f", "-")
	gitserver.PushFiles(t, repo.Dir, branch, "settings, by a person", map[string]string{
		"live-cluster/apps/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings\n  labels: {sync: kube}\ndata:\n  setting: one\n",
	})
	kubectl(t, "", "annotate", "gittarget", "to-folder-live-cluster", "-n", ns, "--overwrite",
		"configbutler.ai/reconcile-requested-at="+time.Now().Format(time.RFC3339Nano))
	g.Eventually(func() string { return getEdge("configmap", "app-settings", "-o", "jsonpath={.data.setting}") }).Should(Equal("one"))
	g.Expect(kubectl(t, "", "get", "configmap", "app-settings", "-n", ns, "--ignore-not-found")).To(BeEmpty())

	// Audit events for the edge cluster need its token.
	g.Expect(postAudit(t, attribution.ClusterAuditPath+ns+"/"+secretName, "not-the-token")).To(Equal(http.StatusUnauthorized))
	g.Expect(postAudit(t, attribution.ClusterAuditPath+ns+"/"+secretName, token)).To(Equal(http.StatusOK))

	// Credentials the cluster refuses, as expired ones are: a condition, and nothing lost.
	stranger, err := tlsca.New("not the edge cluster's CA")
	g.Expect(err).NotTo(HaveOccurred())
	setKubeconfig(withClientCertificate(t, good, stranger.CertPEM, stranger.KeyPEM))
	g.Eventually(ready).Should(And(HavePrefix("False ClusterAuthenticationFailed"), ContainSubstring("HTTP 401"),
		ContainSubstring("Secret "+ns+"/"+secretName+" key value")))
	onEdge(carol, "", "patch", "configmap", "edge-config", "-n", ns, "--type", "merge", "-p", `{"data":{"k":"v2"}}`)

	setKubeconfig(withExec(t, good))
	g.Eventually(ready).Should(And(HavePrefix("False KubeConfigInvalid"), ContainSubstring("exec plugins")))

	setKubeconfig(good)
	g.Eventually(ready).Should(HavePrefix("True Synced"))
	g.Eventually(func() string { return files(t, repo, "live-cluster")[folder+"edge-config.yaml"] }).Should(ContainSubstring("k: v2"))
	// Resumed from Git's cursor, which names the edge cluster: the change as its own commit, by carol.
	g.Expect(eventuallyOneCommit(t, repo, "[UPDATE] configmaps "+ns+"/edge-config").AuthorName).To(Equal("carol"))

	kubectl(t, "", "delete", "secret", secretName, "-n", ns)
	g.Eventually(ready).Should(And(HavePrefix("False KubeConfigNotFound"), ContainSubstring(secretName)))
	select {
	case <-op.Done():
		t.Fatal("the operator exited")
	default:
	}
	gitserver.Fsck(t, repo.Dir)
}

// renamedKubeconfig reads a kubeconfig and names its current context's cluster name.
func renamedKubeconfig(t *testing.T, path, name string) []byte {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kctx := cfg.Contexts[cfg.CurrentContext]
	cfg.Clusters[name] = cfg.Clusters[kctx.Cluster]
	delete(cfg.Clusters, kctx.Cluster)
	kctx.Cluster = name
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withClientCertificate returns the kubeconfig with another client certificate.
func withClientCertificate(t *testing.T, kubeconfig, certPEM, keyPEM []byte) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	user := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
	user.ClientCertificateData, user.ClientKeyData = certPEM, keyPEM
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withExec returns the kubeconfig with an exec plugin for its credentials.
func withExec(t *testing.T, kubeconfig []byte) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	user := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
	user.ClientCertificateData, user.ClientKeyData = nil, nil
	user.Exec = &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1", Command: "/bin/sh",
		Args: []string{"-c", "touch /tmp/pwned"}, InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// postAudit posts an empty audit EventList to the operator's webhook server with a bearer token
// and returns the status code.
func postAudit(t *testing.T, path, token string) int {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cluster.CAPEM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, cluster.URL(path),
		strings.NewReader(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
