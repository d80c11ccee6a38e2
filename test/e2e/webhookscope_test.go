package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

// TestTheAttributionWebhookSeesOnlyWhatIsCaptured: the operator keeps the attribution webhook's
// rules to the resources its rules capture, as rules come and go, so that a write of anything
// else never calls it: such a write records no admission fact, a captured one does.
func TestTheAttributionWebhookSeesOnlyWhatIsCaptured(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	ns := "webhook-scope"
	metrics := stack.FreeAddress(t)
	runOperator(t, "admission", t.TempDir(), "--metrics-bind-address", metrics)
	repo := gitserver.NewSSHRepo(t, "webhook-scope")
	quickStart(t, ns, repo)

	rules := func() []string {
		out := kubectl(t, "", "get", "validatingwebhookconfiguration", "attribution", "-o",
			`jsonpath={range .webhooks[0].rules[*]}{.apiGroups[0]}:{.resources}:{.operations}{"\n"}{end}`)
		return strings.Fields(out)
	}
	g.Eventually(rules).Should(ContainElement(`:["configmaps"]:["CREATE","UPDATE","DELETE"]`))
	g.Expect(rules()).NotTo(ContainElement(HavePrefix("*")), "no wildcard rule")

	kubectl(t, `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: deployments-too
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - apiGroups: [apps]
      resources: [deployments]
`, "apply", "-n", ns, "-f", "-")
	g.Eventually(rules).Should(ContainElement(HavePrefix(`apps:["deployments"]`)))

	facts := func() float64 { return admissionFacts(t, metrics) }
	// A write nobody captures: the API server does not call the webhook for it.
	before := facts()
	for i := range 5 {
		kubectl(t, fmt.Sprintf("apiVersion: v1\nkind: PodTemplate\nmetadata:\n  name: unwatched-%d\ntemplate:\n  spec:\n    containers: [{name: c, image: busybox}]\n", i),
			"apply", "-n", ns, "-f", "-")
	}
	// A captured write does, and its fact is counted: what is counted is current.
	kubectl(t, "", "create", "configmap", "captured", "-n", ns, "--from-literal=k=v")
	g.Eventually(facts).Should(BeNumerically(">=", before+1))
	g.Expect(facts()).To(BeNumerically("<", before+5), "the PodTemplates' writes reached the webhook")

	// Rules are only added in the first minute of a leader (its targets start one by one).
	kubectl(t, "", "delete", "watchrule", "deployments-too", "-n", ns)
	g.Eventually(rules).WithTimeout(120 * time.Second).ShouldNot(ContainElement(HavePrefix(`apps:["deployments"]`)))
	g.Expect(rules()).To(ContainElement(HavePrefix(`:["configmaps"]`)))
}

// admissionFacts reads gitops_reverser_attribution_facts_total{source="admission"} from the
// operator's metrics endpoint; 0 while it has none.
func admissionFacts(t *testing.T, addr string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), `gitops_reverser_attribution_facts_total{source="admission"} `); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err == nil {
				return v
			}
		}
	}
	return 0
}
