package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

var (
	cluster  *stack.Stack
	operator string // the operator's binary
)

func TestMain(m *testing.M) {
	os.Exit(stack.WithOperator(true, func(binary string) int {
		operator = binary
		var err error
		if cluster, err = stack.Start(context.Background(), stack.Options{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
		return m.Run()
	}))
}

// runOperator starts the operator with the attribution source and stops it when the test ends,
// printing its log when the test failed.
func runOperator(t *testing.T, source string, workDir string, extra ...string) *stack.Operator {
	t.Helper()
	args := append(cluster.OperatorArgs(source), "--work-dir", workDir, "--cluster-name", "e2e", "--zap-log-level", "debug")
	args = append(args, extra...) // later flags win
	op, err := stack.StartOperator(operator, cluster.Kubeconfig, filepath.Join(t.TempDir(), "operator.log"), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := op.Stop(30 * time.Second); err != nil {
			t.Errorf("operator: %v", err)
		}
		if t.Failed() {
			t.Logf("operator log (last lines):\n%s", strings.Join(stack.LogTail(op.Log, 150), "\n"))
		}
	})
	return op
}

// kubectl runs kubectl as the admin, failing the test on error.
func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return kubectlAs(t, cluster.Kubeconfig, stdin, args...)
}

func kubectlAs(t *testing.T, kubeconfig, stdin string, args ...string) string {
	t.Helper()
	out, err := cluster.Kubectl(t.Context(), kubeconfig, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// quickStart is the seed's quick start in namespace ns: the git-creds Secret made the way the
// seed makes it, then its GitProvider (with our repository's URL), GitTarget and WatchRule,
// applied with kubectl. It waits until the GitTarget is Ready.
func quickStart(t *testing.T, ns string, repo *gitserver.SSHRepo) {
	t.Helper()
	if _, err := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "namespace", ns); err != nil {
		kubectl(t, "", "create", "namespace", ns)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "gitops-reverser-key")
	if err := os.WriteFile(keyFile, repo.Key.PrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	secret := kubectl(t, "", "create", "secret", "generic", "git-creds", "-n", ns,
		"--from-file=ssh-privatekey="+keyFile, "--from-literal=known_hosts="+repo.Server.KnownHosts(),
		"--dry-run=client", "-o", "yaml")
	kubectl(t, secret, "apply", "-n", ns, "-f", "-")

	manifest, err := stack.QuickStartManifest(repo.URL)
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, manifest, "apply", "-n", ns, "-f", "-")
	t.Cleanup(func() {
		_, _ = cluster.Kubectl(context.Background(), cluster.Kubeconfig, manifest, "delete", "-n", ns, "--wait=false", "-f", "-")
	})
	NewWithT(t).Eventually(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns,
			"-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}`)
		return out
	}).WithTimeout(60*time.Second).WithPolling(200*time.Millisecond).Should(Equal("True Synced"), "GitTarget Ready")
}

// teamMember is a user in group team-a, which may change ConfigMaps and Secrets in namespace ns.
// (The built-in edit role is aggregated by kube-controller-manager, which the test control plane
// does not run.)
func teamMember(t *testing.T, ns, user string) string {
	t.Helper()
	if _, err := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "role", "team-a", "-n", ns); err != nil {
		kubectl(t, "", "create", "role", "team-a", "-n", ns, "--verb=*", "--resource=configmaps,secrets")
		kubectl(t, "", "create", "rolebinding", "team-a", "-n", ns, "--role=team-a", "--group=team-a")
	}
	kubeconfig, err := cluster.UserKubeconfig(user, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}
