package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

var env *controlplane.Env

func TestMain(m *testing.M) {
	controlplane.Main(m, controlplane.Options{}, &env)
}

func get(url string) (int, string) {
	resp, err := http.Get(url) //nolint:gosec // test URL on loopback
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestManagerServesProbesAndMetricsAndTakesTheLease(t *testing.T) {
	g := NewWithT(t)
	metrics, probes := stack.FreeAddress(t), stack.FreeAddress(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"--metrics-bind-address", metrics,
			"--health-probe-bind-address", probes,
			"--leader-elect", "--leader-election-namespace", "default",
			"--work-dir", t.TempDir(),
			"--attribution", "none", "--escalation-check=false",
		}, func() (*rest.Config, error) { return env.Config, nil })
	}()

	g.Eventually(func() int { code, _ := get("http://" + probes + "/healthz"); return code }).
		WithTimeout(30 * time.Second).Should(Equal(http.StatusOK))
	g.Eventually(func() int { code, _ := get("http://" + probes + "/readyz"); return code }).Should(Equal(http.StatusOK))
	g.Eventually(func() string { _, body := get("http://" + metrics + "/metrics"); return body }).
		Should(And(ContainSubstring("controller_runtime_"), ContainSubstring("gitops_reverser_git_writers 0")))

	lease := &coordinationv1.Lease{}
	key := client.ObjectKey{Namespace: "default", Name: "gitops-reverser.configbutler.ai"}
	g.Eventually(func() error { return env.Client.Get(t.Context(), key, lease) }).WithTimeout(30 * time.Second).Should(Succeed())
	g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())

	cancel()
	g.Eventually(done).WithTimeout(30 * time.Second).Should(Receive(BeNil()))
	// The lease is released on a clean stop so a new replica takes over at once.
	g.Expect(env.Client.Get(t.Context(), key, lease)).To(Succeed())
	g.Expect(lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "").To(BeTrue())
}

func TestBadFlagsAreReported(t *testing.T) {
	g := NewWithT(t)
	err := run(t.Context(), []string{"--no-such-flag"}, func() (*rest.Config, error) { return env.Config, nil })
	g.Expect(err).To(MatchError(ContainSubstring("no-such-flag")))
	err = run(t.Context(), []string{"--attribution", "guess"}, func() (*rest.Config, error) { return env.Config, nil })
	g.Expect(err).To(MatchError(ContainSubstring("--attribution must be admission, audit, both or none")))
	// One argument is the file-config mode's repository URL; it needs its config.yaml.
	err = run(t.Context(), []string{"--config", filepath.Join(t.TempDir(), "config.yaml"), "stray"}, func() (*rest.Config, error) { return env.Config, nil })
	g.Expect(err).To(MatchError(ContainSubstring("config.yaml: no such file or directory")))
	err = run(t.Context(), []string{"one", "stray"}, func() (*rest.Config, error) { return env.Config, nil })
	g.Expect(err).To(MatchError(ContainSubstring("unexpected arguments")))
	g.Expect(strings.Contains(err.Error(), "stray")).To(BeTrue())
}
