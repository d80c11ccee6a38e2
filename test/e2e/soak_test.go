package e2e

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// deploymentWrites counts the writes the API server served for Deployments (their scale included),
// dry runs left out, from its own metrics.
func deploymentWrites(t *testing.T) int {
	t.Helper()
	out := kubectl(t, "", "get", "--raw", "/metrics")
	total := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `resource="deployments"`) ||
			strings.Contains(line, `dry_run="All"`) {
			continue
		}
		write := false
		for _, verb := range []string{"APPLY", "PATCH", "UPDATE", "POST", "CREATE", "DELETE"} {
			write = write || strings.Contains(line, `verb="`+verb+`"`)
		}
		if !write {
			continue
		}
		n, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			t.Fatalf("reading %q: %v", line, err)
		}
		total += int(n)
	}
	return total
}

// Both directions on 100 Deployments for a minute: an updater changes images (each a commit),
// a person scales (each put back). Nothing else is written, to Git or to the API server.
func TestSplitObjectsDoNotLoop(t *testing.T) {
	g := NewWithT(t)
	const ns, objects, seconds = "soak", 100, 60
	repo := gitserver.NewSSHRepo(t, "soak")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	kubectl(t, "", "create", "role", "deployers", "-n", ns, "--verb=*", "--resource=deployments.apps,deployments.apps/scale")
	kubectl(t, "", "create", "rolebinding", "deployers", "-n", ns, "--role=deployers", "--user=image-bot", "--user=alice")
	files := map[string]string{}
	for i := range objects {
		files[fmt.Sprintf("live-cluster/apps/web-%d.yaml", i)] = strings.ReplaceAll(strings.Replace(web, "name: web", fmt.Sprintf("name: web-%d", i), 1),
			"app: web", fmt.Sprintf("app: web-%d", i))
	}
	gitserver.PushFiles(t, repo.Dir, branch, "a hundred", files)
	kubectl(t, strings.Replace(splitRule, "name: split-web", "name: soak", 1), "apply", "-n", ns, "-f", "-")
	g.Eventually(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "deployments", "-n", ns, "-o", "name")
		return fmt.Sprint(strings.Count(out, "\n"))
	}).WithTimeout(60 * time.Second).Should(Equal(fmt.Sprint(objects)))
	time.Sleep(3 * time.Second) // settled: the first apply's writes are behind us
	imageCommits := func() int { return len(withSubjectPrefix(t, repo, "[UPDATE] deployments.apps soak/")) }
	commitsBefore, writesBefore := imageCommits(), deploymentWrites(t)

	// Images on web-0..59, one each; scales on web-60..99, round and round: no two changes of
	// one object close together, so nothing coalesces and every change is its own.
	for s := range seconds {
		start := time.Now()
		kubectlAs(t, cluster.Kubeconfig, "", "set", "image", fmt.Sprintf("deployment/web-%d", s), "app=registry.example/app:2."+strconv.Itoa(s),
			"-n", ns, "--as", "image-bot")
		kubectlAs(t, cluster.Kubeconfig, "", "scale", fmt.Sprintf("deployment/web-%d", 60+s%40), "--replicas=7", "-n", ns, "--as", "alice")
		time.Sleep(time.Second - time.Since(start))
	}
	g.Eventually(imageCommits).WithTimeout(60*time.Second).Should(Equal(commitsBefore+seconds), "one commit per image change")
	g.Eventually(func() []string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "deployments", "-n", ns, "-o", "jsonpath={.items[*].spec.replicas}")
		var other []string
		for _, r := range strings.Fields(out) {
			if r != "2" {
				other = append(other, r)
			}
		}
		return other
	}).WithTimeout(30*time.Second).Should(BeEmpty(), "every scale put back")
	time.Sleep(5 * time.Second) // whatever would loop has had time to
	g.Expect(imageCommits()).To(Equal(commitsBefore + seconds))
	// Ours: 60 image changes and 60 scales; the operator's: one apply per scale put back.
	g.Expect(deploymentWrites(t) - writesBefore).To(Equal(3 * seconds))
	for _, c := range withSubjectPrefix(t, repo, "[UPDATE] deployments.apps soak/") {
		g.Expect(c.AuthorName).To(Equal("image-bot"))
	}
}

func withSubjectPrefix(t *testing.T, repo *gitserver.SSHRepo, prefix string) []commit {
	t.Helper()
	var out []commit
	for _, c := range commits(t, repo) {
		if strings.HasPrefix(c.Subject, prefix) {
			out = append(out, c)
		}
	}
	return out
}
