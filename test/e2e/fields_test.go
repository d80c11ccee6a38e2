package e2e

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

const webFile = "live-cluster/apps/web.yaml"

const web = `# the web front end: images follow the cluster, the rest follows Git
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: registry.example/app:1.0 # set by the image updater
      - name: sidecar
        image: registry.example/proxy:1.0
`

// splitRule: the images of Deployments go to Git, everything else comes from Git.
const splitRule = `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: split-web
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - apiGroups: [apps]
      resources: [deployments]
      filters: [/spec/template/spec/containers/*/image]
      syncTo: git
    - apiGroups: [apps]
      resources: [deployments]
      syncTo: kubernetes
`

// The flagship: one Deployment whose images flow cluster → Git and whose other fields flow
// Git → cluster.
func TestFieldsSplitADeploymentBetweenGitAndTheCluster(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	const ns = "split"
	repo := gitserver.NewSSHRepo(t, "split")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	kubectl(t, "", "create", "role", "deployers", "-n", ns, "--verb=*", "--resource=deployments.apps,deployments.apps/scale")
	kubectl(t, "", "create", "rolebinding", "deployers", "-n", ns, "--role=deployers", "--user=image-bot", "--user=alice")
	get := func(jsonpath string) func() string {
		return func() string {
			out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "deployment", "web", "-n", ns, "-o", "jsonpath="+jsonpath)
			return out
		}
	}
	images := get(`{range .spec.template.spec.containers[*]}{.name}={.image} {end}`)
	inGit := func() string { return gitserver.Git(t, repo.Dir, "show", branch+":"+webFile) + "\n" }
	operatorCommits := func() []commit {
		var out []commit
		for _, c := range commits(t, repo) {
			if strings.HasPrefix(c.Subject, "[") && !strings.HasPrefix(c.Subject, "[RECONCILE]") {
				out = append(out, c)
			}
		}
		return out
	}

	// The rule first, then the file: capture finds a file pushed after it last read the folder.
	kubectl(t, splitRule, "apply", "-n", ns, "-f", "-")
	gitserver.PushFiles(t, repo.Dir, branch, "the web front end", map[string]string{webFile: web})
	kubectl(t, "", "annotate", "--overwrite", "gittarget", "to-folder-live-cluster", "-n", ns, "configbutler.ai/reconcile-requested-at=pushed")
	g.Eventually(images).Should(Equal("app=registry.example/app:1.0 sidecar=registry.example/proxy:1.0 "))
	g.Expect(get("{.spec.replicas}")()).To(Equal("2"))
	before := len(operatorCommits())

	// The image updater changes one image: one commit by it, one line of the file.
	kubectlAs(t, cluster.Kubeconfig, "", "set", "image", "deployment/web", "app=registry.example/app:1.1", "-n", ns, "--as", "image-bot")
	g.Eventually(func() []commit { return operatorCommits()[before:] }).Should(HaveLen(1))
	c := operatorCommits()[before]
	g.Expect(c.Subject).To(Equal("[UPDATE] deployments.apps split/web"))
	g.Expect(c.AuthorName).To(Equal("image-bot"))
	g.Expect(c.Trailers).To(HaveKeyWithValue("Kubernetes-Fields", "/spec/template/spec/containers/app/image"))
	g.Expect(inGit()).To(Equal(strings.Replace(web, "app:1.0 #", "app:1.1 #", 1)), "one line changed, the comment kept")
	g.Consistently(images).WithTimeout(2 * time.Second).Should(Equal("app=registry.example/app:1.1 sidecar=registry.example/proxy:1.0 "))

	// A person scales by hand: put back, no commit.
	kubectlAs(t, cluster.Kubeconfig, "", "scale", "deployment/web", "--replicas=5", "-n", ns, "--as", "alice")
	g.Eventually(get("{.spec.replicas}")).Should(Equal("2"))

	// Git changes replicas: applied, the images stay as the cluster has them.
	gitserver.PushFiles(t, repo.Dir, branch, "three", map[string]string{webFile: strings.Replace(inGit(), "replicas: 2", "replicas: 3", 1)})
	kubectl(t, "", "annotate", "--overwrite", "gittarget", "to-folder-live-cluster", "-n", ns, "configbutler.ai/reconcile-requested-at=three")
	g.Eventually(get("{.spec.replicas}")).Should(Equal("3"))
	g.Expect(images()).To(Equal("app=registry.example/app:1.1 sidecar=registry.example/proxy:1.0 "))

	// The containers reordered in Git: ownership stays with the names, nothing changes.
	reordered := strings.Replace(inGit(), `      - name: app
        image: registry.example/app:1.1 # set by the image updater
      - name: sidecar
        image: registry.example/proxy:1.0
`, `      - name: sidecar
        image: registry.example/proxy:1.0
      - name: app
        image: registry.example/app:1.1 # set by the image updater
`, 1)
	g.Expect(reordered).NotTo(Equal(inGit()))
	gitserver.PushFiles(t, repo.Dir, branch, "reordered", map[string]string{webFile: reordered})
	kubectl(t, "", "annotate", "--overwrite", "gittarget", "to-folder-live-cluster", "-n", ns, "configbutler.ai/reconcile-requested-at=reordered")
	g.Eventually(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns,
			"-o", "jsonpath={.status.lastAppliedRevision}")
		return out
	}).Should(Equal(gitserver.Git(t, repo.Dir, "rev-parse", branch)))
	g.Expect(get(`{.spec.template.spec.containers[?(@.name=="app")].image}`)()).To(Equal("registry.example/app:1.1"))

	// Quiet now: no commit but image-bot's, and nothing keeps writing the Deployment.
	rv := get("{.metadata.resourceVersion}")()
	g.Consistently(get("{.metadata.resourceVersion}")).WithTimeout(3 * time.Second).Should(Equal(rv))
	g.Expect(operatorCommits()[before:]).To(HaveLen(1))
	g.Expect(inGit()).To(Equal(reordered))
}

// git-controller's example: filters: ["/metadata/annotations"] with syncTo: git. A create is
// written whole; afterwards only annotation changes make commits, and only the annotations
// change in the file.
func TestAnnotationsOnlyRuleCommitsOnlyAnnotations(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	const ns = "annotations"
	repo := gitserver.NewSSHRepo(t, "annotations")
	workDir := t.TempDir()
	first := runOperator(t, "admission", workDir)
	quickStart(t, ns, repo)
	kubectl(t, `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: annotations-only
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - resources: [services]
      filters: ["/metadata/annotations"]
      syncTo: git
`, "apply", "-n", ns, "-f", "-")
	const file = "live-cluster/annotations/services/web.yaml"
	inGit := func() string { return gitserver.Git(t, repo.Dir, "show", branch+":"+file) + "\n" }

	kubectl(t, "", "create", "service", "clusterip", "web", "--tcp=80:8080", "-n", ns)
	created := eventuallyOneCommit(t, repo, "[CREATE] services annotations/web")
	g.Expect(created.Trailers).NotTo(HaveKey("Kubernetes-Fields"))
	whole := inGit()
	g.Expect(whole).To(ContainSubstring("targetPort: 8080"))

	kubectl(t, "", "label", "service", "web", "tier=front", "-n", ns)
	kubectl(t, "", "patch", "service", "web", "-n", ns, "--type=merge", "-p", `{"spec":{"sessionAffinity":"ClientIP"}}`)
	g.Consistently(func() []commit { return withSubject(t, repo, "[UPDATE] services annotations/web") }).
		WithTimeout(3 * time.Second).Should(BeEmpty())

	kubectl(t, "", "annotate", "service", "web", "example.com/owner=team-a", "-n", ns)
	updated := eventuallyOneCommit(t, repo, "[UPDATE] services annotations/web")
	g.Expect(updated.Trailers).To(HaveKeyWithValue("Kubernetes-Fields", "/metadata/annotations/example.com~1owner"))
	removed, added := lineDiff(whole, inGit())
	g.Expect(removed).To(BeEmpty())
	g.Expect(added).To(Equal([]string{"  annotations:", "    example.com/owner: team-a"}))
	g.Expect(inGit()).NotTo(ContainSubstring("tier"))
	g.Expect(inGit()).NotTo(ContainSubstring("ClientIP"))

	// Changed while the operator is down: the history since Git's cursor gives the change back,
	// which edits the annotation, and only it, as a commit of its own.
	first.Kill()
	annotated := inGit()
	kubectl(t, "", "annotate", "--overwrite", "service", "web", "example.com/owner=team-b", "-n", ns)
	kubectl(t, "", "label", "--overwrite", "service", "web", "tier=back", "-n", ns)
	runOperator(t, "admission", workDir)
	g.Eventually(inGit).Should(ContainSubstring("team-b"))
	removed, added = lineDiff(annotated, inGit())
	g.Expect(removed).To(Equal([]string{"    example.com/owner: team-a"}))
	g.Expect(added).To(Equal([]string{"    example.com/owner: team-b"}))
	updates := withSubject(t, repo, "[UPDATE] services annotations/web")
	g.Expect(updates).To(HaveLen(2))
	g.Expect(updates[1].Trailers).To(HaveKeyWithValue("Kubernetes-Fields", "/metadata/annotations/example.com~1owner"))
	g.Expect(withSubjectPrefix(t, repo, "[RECONCILE]")).To(HaveLen(1), "only the first start's")
}

// lineDiff is the lines only a has and the lines only b has, in order.
func lineDiff(a, b string) (onlyA, onlyB []string) {
	return linesMinus(a, b), linesMinus(b, a)
}

// linesMinus is the lines of a that b does not have (as many times as a has them more), in order.
func linesMinus(a, b string) []string {
	count := map[string]int{}
	for _, l := range strings.Split(b, "\n") {
		count[l]++
	}
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if count[l] > 0 {
			count[l]--
		} else {
			out = append(out, l)
		}
	}
	return out
}

// The hybrid pattern: a GitOps tool applies the same ConfigMap from its own repository. Named as
// an excluded writer (its user and its field manager), what it does makes no commit; what a person
// changes by hand still does, and only that is written.
func TestExcludedWritersMakeNoCommits(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	const ns = "hybrid"
	const tool = "system:serviceaccount:" + ns + ":kustomize-controller"
	repo := gitserver.NewSSHRepo(t, "hybrid")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	kubectl(t, `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: by-people
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - resources: [configmaps]
      labels:
        matchLabels: {app: shop}
      excludedWriters:
        users: ["`+tool+`"]
        fieldManagers: [kustomize-controller]
`, "apply", "-n", ns, "-f", "-")
	kubectl(t, "", "create", "role", "configs", "-n", ns, "--verb=*", "--resource=configmaps")
	kubectl(t, "", "create", "rolebinding", "tool", "-n", ns, "--role=configs", "--serviceaccount="+ns+":kustomize-controller", "--user=alice")
	byTool := func(color string) {
		kubectlAs(t, cluster.Kubeconfig, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop, labels: {app: shop}}\ndata: {color: "+color+"}\n",
			"apply", "--server-side", "--field-manager=kustomize-controller", "-n", ns, "-f", "-", "--as", tool)
	}
	const file = "live-cluster/hybrid/configmaps/shop.yaml"
	shopCommits := func() []commit {
		var out []commit
		for _, c := range commits(t, repo) {
			if strings.HasSuffix(c.Subject, " configmaps hybrid/shop") {
				out = append(out, c)
			}
		}
		return out
	}

	byTool("blue")
	byTool("green")
	g.Consistently(shopCommits).WithTimeout(3 * time.Second).Should(BeEmpty())

	kubectlAs(t, cluster.Kubeconfig, "", "patch", "configmap", "shop", "-n", ns, "--type=merge", "-p", `{"data":{"size":"large"}}`, "--as", "alice")
	g.Eventually(shopCommits).Should(HaveLen(1))
	g.Expect(shopCommits()[0].AuthorName).To(Equal("alice"))
	inGit := gitserver.Git(t, repo.Dir, "show", branch+":"+file)
	g.Expect(inGit).To(ContainSubstring("size: large"))
	g.Expect(inGit).NotTo(ContainSubstring("color"), "the tool's field is its own repository's")

	byTool("red")
	g.Consistently(shopCommits).WithTimeout(3 * time.Second).Should(HaveLen(1))
	g.Expect(gitserver.Git(t, repo.Dir, "show", branch+":"+file)).To(Equal(inGit))
}

// A syncTo: kubernetes rule with filters applies only its fields to objects that exist, and
// never creates or deletes one; the rest of the object goes to Git.
func TestFilteredApplyRuleOnlyAppliesItsFields(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	const ns = "replicas"
	repo := gitserver.NewSSHRepo(t, "replicas")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	kubectl(t, `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: replicas-from-git
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - apiGroups: [apps]
      resources: [deployments]
      filters: [/spec/replicas]
      syncTo: kubernetes
    - apiGroups: [apps]
      resources: [deployments]
`, "apply", "-n", ns, "-f", "-")
	const file = "live-cluster/replicas/deployments.apps/api.yaml"
	inGit := func() string { return gitserver.Git(t, repo.Dir, "show", branch+":"+file) + "\n" }
	replicas := func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "deployment", "api", "-n", ns, "-o", "jsonpath={.spec.replicas}")
		return out
	}

	// Made in the cluster: written to Git whole, since the rest of it is Git's side.
	kubectl(t, "", "create", "deployment", "api", "--image=registry.example/api:1", "--replicas=1", "-n", ns)
	eventuallyOneCommit(t, repo, "[CREATE] deployments.apps replicas/api")
	g.Expect(inGit()).To(ContainSubstring("replicas: 1"))

	// The replicas are Git's: a scale is put back and makes no commit.
	kubectl(t, "", "scale", "deployment/api", "--replicas=4", "-n", ns)
	g.Eventually(replicas).Should(Equal("1"))
	// Everything else is the cluster's: an image change is a commit of that field.
	kubectl(t, "", "set", "image", "deployment/api", "api=registry.example/api:2", "-n", ns)
	updated := eventuallyOneCommit(t, repo, "[UPDATE] deployments.apps replicas/api")
	g.Expect(updated.Trailers).To(HaveKeyWithValue("Kubernetes-Fields", "/spec/template/spec/containers/api/image"))
	removed, added := lineDiff(strings.Replace(inGit(), "api:2", "api:1", 1), inGit())
	g.Expect(removed).To(HaveLen(1))
	g.Expect(added).To(Equal([]string{"      - image: registry.example/api:2"}))

	// Git changes the replicas: applied. A Deployment only Git has is not created.
	ghost := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ghost}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: ghost}}\n" +
		"  template:\n    metadata: {labels: {app: ghost}}\n    spec: {containers: [{name: g, image: g}]}\n"
	gitserver.PushFiles(t, repo.Dir, branch, "three", map[string]string{
		file: strings.Replace(inGit(), "replicas: 1", "replicas: 3", 1), "live-cluster/replicas/deployments.apps/ghost.yaml": ghost,
	})
	kubectl(t, "", "annotate", "--overwrite", "gittarget", "to-folder-live-cluster", "-n", ns, "configbutler.ai/reconcile-requested-at=three")
	g.Eventually(replicas).Should(Equal("3"))
	g.Consistently(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "deployment", "ghost", "-n", ns, "--ignore-not-found", "-o", "name")
		return out
	}).WithTimeout(3 * time.Second).Should(BeEmpty())
	g.Expect(kubectl(t, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns, "-o",
		`jsonpath={.status.conditions[?(@.type=="Applied")].message}`)).To(ContainSubstring("1 not in the cluster yet"))
	g.Expect(withSubject(t, repo, "[UPDATE] deployments.apps replicas/api")).To(HaveLen(1), "neither the scale nor Git's replicas made a commit")
	g.Expect(kubectl(t, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns, "-o", "jsonpath={.status.inventory.entries[*].id}")).
		NotTo(ContainSubstring("Deployment"), "split objects are never pruned, so never in the inventory")
}
