package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// TestAProviderOverHTTPSSaysWhatAPersonMustFix: through the operator's binary, against an HTTPS
// Git server that answers as Apache httpd does. A certificate from an authority the provider does
// not trust is TLSVerificationFailed, not Unreachable; a wrong password is AuthenticationFailed
// with the status and the page's title, never the page.
func TestAProviderOverHTTPSSaysWhatAPersonMustFix(t *testing.T) {
	root := t.TempDir()
	server := gitserver.StartHTTPSServer(t, root, gitserver.Credential{Username: "bot", Password: "s3cret"})
	gitserver.NewBareRepo(t, root, "repo")
	runOperator(t, "admission", t.TempDir())
	ns := fmt.Sprintf("conditions-%d", time.Now().UnixNano()%1_000_000)
	kubectl(t, "", "create", "namespace", ns)

	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, server.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, secret := range [][]string{
		{"wrong-password", "--from-literal=username=bot", "--from-literal=password=guess", "--from-file=ca.crt=" + caFile},
		{"no-ca", "--from-literal=username=bot", "--from-literal=password=s3cret"},
		{"right", "--from-literal=username=bot", "--from-literal=password=s3cret", "--from-file=ca.crt=" + caFile},
	} {
		kubectl(t, "", append([]string{"create", "secret", "generic", secret[0], "-n", ns}, secret[1:]...)...)
		kubectl(t, fmt.Sprintf(`apiVersion: configbutler.ai/v1alpha1
kind: GitProvider
metadata:
  name: %s
spec:
  url: %s
  allowedBranches: ["*"]
  secretRef:
    name: %s
`, secret[0], server.URL("repo"), secret[0]), "apply", "-n", ns, "-f", "-")
	}
	ready := func(name string) func() string {
		return func() string {
			out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "gitprovider", name, "-n", ns, "-o",
				`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`)
			return out
		}
	}
	g := NewWithT(t)
	g.Eventually(ready("right")).WithTimeout(60 * time.Second).Should(HavePrefix("True Connected: "))
	g.Eventually(ready("wrong-password")).WithTimeout(60 * time.Second).
		Should(And(HavePrefix("False AuthenticationFailed: "), HaveSuffix(": authentication required (HTTP 401): 401 Unauthorized")))
	g.Eventually(ready("no-ca")).WithTimeout(60 * time.Second).Should(And(
		HavePrefix("False TLSVerificationFailed: "), ContainSubstring("x509: certificate signed by unknown authority")))
}
