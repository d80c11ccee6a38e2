package controller

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func kubeconfigWith(cluster, user string) []byte {
	return []byte(`apiVersion: v1
kind: Config
clusters:
- name: edge-1
  cluster:
` + cluster + `
users:
- name: ops
  user:
` + user + `
contexts:
- name: edge
  context: {cluster: edge-1, user: ops}
current-context: edge
`)
}

func TestAKubeconfigMayOnlyUseCredentialsWrittenIntoIt(t *testing.T) {
	const server = "    server: https://10.0.0.1:6443"
	const token = "    token: abc"
	for name, tc := range map[string]struct {
		cluster, user, refused string
	}{
		"exec plugin":      {server, "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, id]}", "exec plugins"},
		"auth provider":    {server, "    auth-provider: {name: oidc}", "auth-provider plugins"},
		"token file":       {server, "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token", "tokenFile"},
		"client cert file": {server, "    client-certificate: /etc/ssl/c.pem\n    client-key: /etc/ssl/k.pem", "client-certificate and client-key files"},
		"ca file":          {server + "\n    certificate-authority: /etc/ssl/ca.pem", token, "certificate-authority (a file"},
		"insecure":         {server + "\n    insecure-skip-tls-verify: true", token, "insecure-skip-tls-verify"},
		"plain http":       {"    server: http://10.0.0.1:8080", token, `server "http://10.0.0.1:8080"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseKubeConfig(kubeconfigWith(tc.cluster, tc.user))
			NewWithT(t).Expect(err).To(MatchError(And(HavePrefix("refused: "), ContainSubstring(tc.refused))))
		})
	}
}

func TestAKubeconfigWithInlineCredentialsNamesItsCluster(t *testing.T) {
	g := NewWithT(t)
	rc, err := parseKubeConfig(kubeconfigWith("    server: https://10.0.0.1:6443", "    token: abc"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rc.name).To(Equal("edge-1"))
	g.Expect(rc.config.Host).To(Equal("https://10.0.0.1:6443"))
	g.Expect(rc.config.BearerToken).To(Equal("abc"))

	_, err = parseKubeConfig([]byte("current-context: nowhere\n"))
	g.Expect(err).To(MatchError(ContainSubstring(`no current-context (it is "nowhere")`)))
	_, err = parseKubeConfig([]byte("token: hunter2\n\tbroken: [\n"))
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).NotTo(ContainSubstring("hunter2"))
	g.Expect(strings.Count(err.Error(), "\n")).To(BeZero())
}
