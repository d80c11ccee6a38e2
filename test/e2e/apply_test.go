package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// fromGitRule applies, in the quick start's folder, ConfigMaps labelled sync=kube, Deployments and
// Secrets from Git. Its name sorts before the quick start's only-configmaps, so its rules come
// first: every other ConfigMap is still written to Git.
const fromGitRule = `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: from-git
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - resources: [configmaps]
      labels:
        matchLabels:
          sync: kube
      syncTo: kubernetes
    - apiGroups: [apps]
      resources: [deployments]
      syncTo: kubernetes
    - resources: [secrets]
      syncTo: kubernetes
`

func appFiles(ns, setting string, keys secrets.Keys) map[string]string {
	return map[string]string{
		"live-cluster/apps/settings.yaml": `# the app's settings, applied from Git
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-settings
  labels:
    sync: kube
data:
  setting: ` + setting + `
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ` + ns + `
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app # the main container
          image: registry.example/app:1.0
`,
		"live-cluster/apps/db.sops.yaml": encrypt(keys, `apiVersion: v1
kind: Secret
metadata:
  name: db-password
  namespace: `+ns+`
stringData:
  password: from-git-hunter2
`),
	}
}

func encrypt(keys secrets.Keys, plain string) string {
	out, err := secrets.Encrypt([]byte(plain), keys, nil, time.Now())
	if err != nil {
		panic(err)
	}
	return string(out)
}

// Git → cluster through the CRDs, in a folder shared with the quick start's syncTo: git rule:
// each side does its job and neither commits nor applies the other's objects; bad files are
// reported by name while the rest is applied; drift is put back; a file removed from Git is
// pruned, and nothing we did not apply is ever deleted; deleting the rule releases its objects.
func TestGitToCluster(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second) // the quick start pushes every 5s
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ns := "apply"
	repo := gitserver.NewSSHRepo(t, "apply")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	keys, _ := generatedKeys(t, ns)
	stranger, err := age.GenerateX25519Identity()
	g.Expect(err).NotTo(HaveOccurred())
	strangers, err := secrets.NewKeys([]string{stranger.Recipient().String()}, nil, false)
	g.Expect(err).NotTo(HaveOccurred())

	files := appFiles(ns, "one", keys)
	files["live-cluster/apps/broken.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {sync: kube}\n"
	files["live-cluster/apps/elsewhere.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elsewhere\n  namespace: default\n  labels: {sync: kube}\n"
	files["live-cluster/apps/theirs.sops.yaml"] = encrypt(strangers, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: theirs\nstringData:\n  a: b\n")
	gitserver.PushFiles(t, repo.Dir, branch, "the app, by a person", files)
	kubectl(t, fromGitRule, "apply", "-n", ns, "-f", "-")

	get := func(args ...string) string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", append([]string{"get", "-n", ns}, args...)...)
		return strings.TrimSpace(out)
	}
	g.Eventually(func() string { return get("configmap", "app-settings", "-o", "jsonpath={.data.setting}") }).
		WithTimeout(60 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal("one"))
	g.Eventually(func() string { return get("deployment", "web", "-o", "jsonpath={.spec.replicas}") }).Should(Equal("2"))
	g.Eventually(func() string {
		return get("secret", "db-password", "-o", "jsonpath={.data.password}")
	}).Should(Equal("ZnJvbS1naXQtaHVudGVyMg==")) // from-git-hunter2
	g.Expect(get("configmap", "app-settings", "-o", "jsonpath={.metadata.managedFields[*].manager}")).To(ContainSubstring("gitops-reverser"))
	g.Expect(kubectl(t, "", "get", "configmap", "elsewhere", "-n", "default", "--ignore-not-found")).To(BeEmpty())

	applied := func() string {
		return get("gittarget", "to-folder-live-cluster", "-o",
			`jsonpath={.status.conditions[?(@.type=="Applied")].status} {.status.conditions[?(@.type=="Applied")].reason} {.status.conditions[?(@.type=="Applied")].message}`)
	}
	g.Eventually(applied).Should(And(HavePrefix("False DecryptionFailed"),
		ContainSubstring("live-cluster/apps/broken.yaml: ConfigMap has no metadata.name"),
		ContainSubstring("live-cluster/apps/elsewhere.yaml: ConfigMap default/elsewhere is in namespace default"),
		ContainSubstring("only in namespace apply: refused"),
		ContainSubstring("live-cluster/apps/theirs.sops.yaml: cannot decrypt")))
	g.Expect(get("gittarget", "to-folder-live-cluster", "-o", "jsonpath={.status.inventory.entries[*].id}")).To(Equal(
		"apply_app-settings__ConfigMap apply_db-password__Secret apply_web_apps_Deployment"))

	// The cluster → Git side keeps writing its own ConfigMaps, and they are not applied.
	kubectl(t, "", "create", "configmap", "captured", "-n", ns, "--from-literal=k=v")
	g.Eventually(func() []commit { return withSubject(t, repo, "[CREATE] configmaps "+ns+"/captured") }).Should(HaveLen(1))
	g.Expect(get("configmap", "captured", "-o", "jsonpath={.metadata.managedFields[*].manager}")).NotTo(ContainSubstring("gitops-reverser"))

	// Drift: a person's edit of an applied object is put back from Git.
	kubectl(t, "", "patch", "configmap", "app-settings", "-n", ns, "--type=merge", "-p", `{"data":{"setting":"by hand"}}`)
	g.Eventually(func() string { return get("configmap", "app-settings", "-o", "jsonpath={.data.setting}") }).
		WithTimeout(10 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal("one"))

	// An object that a rule selects but that we never applied stays, whatever happens in Git.
	kubectl(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: by-hand\n  labels: {sync: kube}\ndata: {k: v}\n", "apply", "-n", ns, "-f", "-")

	// Fixed in Git: the bad files go, a setting changes, the Secret's file is removed.
	next := appFiles(ns, "two", keys)
	next["live-cluster/apps/db.sops.yaml"] = ""
	next["live-cluster/apps/broken.yaml"] = ""
	next["live-cluster/apps/elsewhere.yaml"] = ""
	next["live-cluster/apps/theirs.sops.yaml"] = ""
	gitserver.PushFiles(t, repo.Dir, branch, "fixed, by a person", next)
	kubectl(t, "", "annotate", "gittarget", "to-folder-live-cluster", "-n", ns, "--overwrite",
		fmt.Sprintf("configbutler.ai/reconcile-requested-at=%d", time.Now().UnixNano()))
	g.Eventually(func() string { return get("configmap", "app-settings", "-o", "jsonpath={.data.setting}") }).
		WithTimeout(30 * time.Second).Should(Equal("two"))
	g.Eventually(func() string { return get("secret", "db-password", "--ignore-not-found") }).Should(BeEmpty())
	g.Eventually(applied).Should(HavePrefix("True Applied"))
	g.Expect(get("gittarget", "to-folder-live-cluster", "-o", "jsonpath={.status.inventory.entries[*].id}")).To(Equal(
		"apply_app-settings__ConfigMap apply_web_apps_Deployment"))
	tip := gitserver.Refs(t, repo.Dir)["refs/heads/"+branch]
	g.Expect(get("gittarget", "to-folder-live-cluster", "-o", "jsonpath={.status.lastAppliedRevision}")).To(Equal(tip))
	for _, name := range []string{"git-creds", "sops-age-key"} {
		g.Expect(get("secret", name, "-o", "name")).To(Equal("secret/"+name), "a Secret we never applied is never deleted")
	}
	g.Expect(get("configmap", "by-hand", "-o", "name")).To(Equal("configmap/by-hand"))
	g.Expect(get("events", "--field-selector", "reason=Pruned", "-o", "jsonpath={.items[*].message}")).To(ContainSubstring("deleted Secret apply/db-password"))

	// Neither side wrote the other's files: only people touched the applied folder.
	authors := gitserver.Git(t, repo.Dir, "log", "--format=%an", branch, "--", "live-cluster/apps")
	g.Expect(strings.Split(authors, "\n")).To(HaveEach("gitserver"))
	for _, c := range commits(t, repo) {
		g.Expect(c.Subject).NotTo(ContainSubstring("app-settings"))
		g.Expect(c.Subject).NotTo(ContainSubstring("by-hand"), "a ConfigMap labelled sync=kube is the applying side's")
	}

	// The rule goes: its objects are released, not deleted.
	kubectl(t, "", "delete", "watchrule", "from-git", "-n", ns)
	g.Consistently(func() string { return get("configmap", "app-settings", "-o", "name") }).
		WithTimeout(3 * time.Second).Should(Equal("configmap/app-settings"))
	g.Expect(get("deployment", "web", "-o", "name")).To(Equal("deployment.apps/web"))
}

// A rule with serviceAccountName applies as that ServiceAccount: what it may not apply is
// reported as Forbidden, naming the object and the account, and what it may is applied.
func TestApplyAsServiceAccount(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ns := "tenant-apply"
	repo := gitserver.NewSSHRepo(t, "tenant")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	kubectl(t, "", "create", "serviceaccount", "deployer", "-n", ns)
	kubectl(t, "", "create", "role", "deployer", "-n", ns, "--verb=get,list,watch,create,update,patch,delete", "--resource=configmaps")
	kubectl(t, "", "create", "rolebinding", "deployer", "-n", ns, "--role=deployer", "--serviceaccount="+ns+":deployer")
	gitserver.PushFiles(t, repo.Dir, branch, "a tenant's app", map[string]string{
		"live-cluster/app.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: allowed, labels: {sync: kube}}
data: {k: v}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: refused}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: x, image: x}]}
`,
	})
	kubectl(t, strings.Replace(fromGitRule, "spec:\n", "spec:\n  serviceAccountName: deployer\n", 1), "apply", "-n", ns, "-f", "-")
	g.Eventually(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "configmap", "allowed", "-n", ns, "-o", "jsonpath={.data.k}")
		return out
	}).Should(Equal("v"))
	g.Eventually(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns, "-o",
			`jsonpath={.status.conditions[?(@.type=="Applied")].reason} {.status.conditions[?(@.type=="Applied")].message}`)
		return out
	}).Should(And(HavePrefix("Forbidden"), ContainSubstring("live-cluster/app.yaml (document 2)"),
		ContainSubstring("applying as ServiceAccount "+ns+"/deployer, for WatchRule "+ns+"/from-git rules[1]")))
	g.Expect(kubectl(t, "", "get", "deployment", "refused", "-n", ns, "--ignore-not-found")).To(BeEmpty())
}

// kill -9 after an apply: the inventory is in the GitTarget's status, so the next operator prunes
// what left Git meanwhile, and nothing else.
func TestApplyInventorySurvivesKill(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ns := "apply-restart"
	repo := gitserver.NewSSHRepo(t, "restart")
	workDir := t.TempDir()
	first := runOperator(t, "admission", workDir)
	quickStart(t, ns, repo)
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", labels: {sync: kube}}\ndata: {k: v}\n"
	}
	gitserver.PushFiles(t, repo.Dir, branch, "two", map[string]string{"live-cluster/a.yaml": cm("a"), "live-cluster/b.yaml": cm("b")})
	kubectl(t, fromGitRule, "apply", "-n", ns, "-f", "-")
	inventory := func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns,
			"-o", "jsonpath={.status.inventory.entries[*].id}")
		return out
	}
	g.Eventually(inventory).Should(Equal(ns + "_a__ConfigMap " + ns + "_b__ConfigMap"))
	first.Kill()

	gitserver.PushFiles(t, repo.Dir, branch, "b goes", map[string]string{"live-cluster/b.yaml": ""})
	runOperator(t, "admission", workDir)
	g.Eventually(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "configmap", "b", "-n", ns, "--ignore-not-found", "-o", "name")
		return out
	}).Should(BeEmpty())
	g.Eventually(inventory).Should(Equal(ns + "_a__ConfigMap"))
	g.Expect(kubectl(t, "", "get", "configmap", "a", "-n", ns, "-o", "jsonpath={.data.k}")).To(Equal("v"))
	g.Expect(kubectl(t, "", "get", "secret", "git-creds", "-n", ns, "-o", "name")).To(ContainSubstring("git-creds"))
}

// A push webhook makes the target fetch and apply at once, with the interval far away; a request
// with the wrong token is refused and changes nothing.
func TestPushWebhookAppliesAtOnce(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ns := "apply-webhook"
	repo := gitserver.NewSSHRepo(t, "webhook")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	kubectl(t, "", "create", "secret", "generic", "push-token", "-n", ns, "--from-literal=token=s3cret")
	kubectl(t, "", "patch", "gitprovider", "your-repo", "-n", ns, "--type=merge", "-p", `{"spec":{"webhook":{"secretRef":{"name":"push-token"}}}}`)
	kubectl(t, "", "patch", "gittarget", "to-folder-live-cluster", "-n", ns, "--type=merge", "-p", `{"spec":{"interval":"1h"}}`)
	kubectl(t, fromGitRule, "apply", "-n", ns, "-f", "-")
	g.Eventually(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns,
			"-o", `jsonpath={.status.conditions[?(@.type=="Applied")].reason}`)
		return out
	}).Should(Equal("Applied"))

	gitserver.PushFiles(t, repo.Dir, branch, "pushed", map[string]string{
		"live-cluster/pushed.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pushed, labels: {sync: kube}}\ndata: {k: v}\n",
	})
	hook := func(token string) int {
		body := strings.NewReader(`{"ref":"refs/heads/` + branch + `"}`)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
			fmt.Sprintf("https://127.0.0.1:%d/hooks/git/%s/your-repo", cluster.WebhookPort, ns), body)
		g.Expect(err).NotTo(HaveOccurred())
		req.Header.Set("X-Gitlab-Event", "Push Hook")
		req.Header.Set("X-Gitlab-Token", token)
		// The test's own CA signed the webhook server's certificate; what is tested here is the
		// token and the fetch it causes, not TLS.
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
		resp, err := client.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		return resp.StatusCode
	}
	pushed := func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "configmap", "pushed", "-n", ns, "--ignore-not-found", "-o", "name")
		return strings.TrimSpace(out)
	}
	g.Expect(hook("wrong")).To(Equal(http.StatusUnauthorized))
	g.Consistently(pushed).WithTimeout(2 * time.Second).Should(BeEmpty())
	g.Expect(hook("s3cret")).To(Equal(http.StatusAccepted))
	g.Eventually(pushed).WithTimeout(10 * time.Second).Should(Equal("configmap/pushed"))
}

// An object that kubectl applied (client-side) before Git took it over: the fields kubectl's
// client-side apply owned become ours, so a field removed in Git leaves the object, while a field
// a person set by other means stays theirs.
func TestApplyTakesOverClientSideApplyFieldsOnly(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ns := "apply-takeover"
	repo := gitserver.NewSSHRepo(t, "takeover")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	kubectl(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: adopted, labels: {sync: kube}}\ndata: {a: '1', b: '2'}\n", "apply", "-n", ns, "-f", "-")
	kubectl(t, "", "patch", "configmap", "adopted", "-n", ns, "--field-manager=kubectl-edit", "--type=merge", "-p", `{"data":{"c":"3"}}`)

	gitserver.PushFiles(t, repo.Dir, branch, "adopt", map[string]string{
		"live-cluster/adopted.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: adopted, labels: {sync: kube}}\ndata: {a: '1'}\n",
	})
	kubectl(t, fromGitRule, "apply", "-n", ns, "-f", "-")
	g.Eventually(func() string {
		out, _ := cluster.Kubectl(t.Context(), cluster.Kubeconfig, "", "get", "configmap", "adopted", "-n", ns, "-o", "jsonpath={.data}")
		return out
	}).Should(Equal(`{"a":"1","c":"3"}`))
	managers := kubectl(t, "", "get", "configmap", "adopted", "-n", ns, "--show-managed-fields", "-o",
		`jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}`)
	g.Expect(strings.Fields(managers)).To(ConsistOf("gitops-reverser/Apply", "kubectl-edit/Update"))
}
