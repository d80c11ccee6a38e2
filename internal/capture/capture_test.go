package capture

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
	"github.com/gitops-reverser/gitops-reverser/internal/route"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

var env *controlplane.Env

func TestMain(m *testing.M) {
	controlplane.Main(m, controlplane.Options{WithoutCRDs: true}, &env)
}

// authors is an Attributor the test controls: it knows the author of an object once told.
type authors struct {
	mu      sync.Mutex
	byName  map[string]string
	updated chan struct{}
}

func newAuthors() *authors {
	return &authors{byName: map[string]string{}, updated: make(chan struct{})}
}

func (a *authors) Lookup(q attribution.Query) (attribution.User, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	name, ok := a.byName[q.Name]
	return attribution.User{Name: name}, ok
}

// Settled: facts may always come later (a test teaches authors at any time).
func (a *authors) Settled(time.Time) (bool, time.Time) { return false, time.Time{} }

func (a *authors) Updated() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.updated
}

func (a *authors) learn(object, user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byName[object] = user
	close(a.updated)
	a.updated = make(chan struct{})
}

// startPipeline runs a pipeline writing the ConfigMaps of ns to a fresh repository over SSH.
func startPipeline(t *testing.T, ns string, attributor Attributor, wait time.Duration) (*gitserver.SSHRepo, *Pipeline) {
	repo, p, _ := startPipelineFor(t, ns, "configmaps", attributor, wait)
	return repo, p
}

// startPipelineFor runs a pipeline writing the objects of resource in ns, and returns its plan.
func startPipelineFor(t *testing.T, ns, resource string, attributor Attributor, wait time.Duration) (*gitserver.SSHRepo, *Pipeline, Plan) {
	t.Helper()
	g := NewWithT(t)
	repo := gitserver.NewSSHRepo(t, "live")
	dyn, err := dynamic.NewForConfig(env.Config)
	g.Expect(err).NotTo(HaveOccurred())
	writers := &gitwriter.Registry{BaseDir: t.TempDir(), Log: testr.New(t)}
	p := New(Options{
		Watches: watch.New(dyn, watch.Options{Log: testr.New(t), Transform: manifest.Slim}),
		Writers: writers, Attribution: attributor, AttributionWait: wait, Cluster: "test", Log: testr.New(t),
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = writers.Start(ctx) }()
	go func() { defer wg.Done(); _ = p.Start(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	matcher, err := route.Compile(configv1alpha1.ResourceRule{Resources: []string{resource}}, route.Scope{Namespace: ns})
	g.Expect(err).NotTo(HaveOccurred())
	plan := Plan{
		Target: types.NamespacedName{Namespace: ns, Name: "live"},
		Writer: gitwriter.Key{URL: repo.URL, Branch: "main"},
		Settings: gitwriter.Settings{
			Credentials: gitwriter.Credentials{SSHPrivateKey: repo.Key.PrivateKeyPEM, KnownHosts: []byte(repo.Server.KnownHosts())},
			Push:        gitwriter.PushPolicy{Interval: 0},
		},
		Folder:  "live",
		Sources: []Source{{Resource: schema.GroupVersionResource{Version: "v1", Resource: resource}, Namespace: ns, Rules: []*route.Matcher{matcher}}},
	}
	g.Eventually(func() error { return p.Apply(t.Context(), plan) }).WithTimeout(10 * time.Second).Should(Succeed())
	g.Eventually(func() bool { s, _ := p.Status(plan.Target); return s.Synced }).WithTimeout(30 * time.Second).Should(BeTrue())
	return repo, p, plan
}

// A Secret seen while the target has no recipient is held, never written; once encryption is
// configured it is written, encrypted.
func TestSecretsAreHeldUntilTheyCanBeEncrypted(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	repo, p, plan := startPipelineFor(t, ns, "secrets", nil, 10*time.Millisecond)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}, StringData: map[string]string{"password": "hunter2"}}
	g.Expect(env.Client.Create(t.Context(), secret)).To(Succeed())
	g.Eventually(func() int { s, _ := p.Status(plan.Target); return s.Held }).WithTimeout(30 * time.Second).Should(Equal(1))
	g.Consistently(func() []string { return logOf(t, repo) }).WithTimeout(time.Second).Should(Or(BeEmpty(), Equal([]string{""})))

	id, err := age.GenerateX25519Identity()
	g.Expect(err).NotTo(HaveOccurred())
	keys, err := secrets.NewKeys(nil, []*age.X25519Identity{id}, true)
	g.Expect(err).NotTo(HaveOccurred())
	plan.Encryption = &keys
	g.Expect(p.Apply(t.Context(), plan)).To(Succeed())
	path := "main:live/" + ns + "/secrets/db.sops.yaml"
	g.Eventually(func() error {
		_, err := gitserver.Run(t.Context(), repo.Dir, nil, "cat-file", "-e", path)
		return err
	}).WithTimeout(30 * time.Second).Should(Succeed())
	plain, err := secrets.Decrypt([]byte(gitserver.Git(t, repo.Dir, "show", path)+"\n"), keys)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(plain)).To(ContainSubstring("password: aHVudGVyMg=="))
	g.Expect(gitserver.Git(t, repo.Dir, "show", "main:live/.sops.yaml")).To(ContainSubstring(keys.Recipients[0]))
	g.Eventually(func() int { s, _ := p.Status(plan.Target); return s.Held }).Should(BeZero())
}

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-"}}
	NewWithT(t).Expect(env.Client.Create(t.Context(), ns)).To(Succeed())
	return ns.Name
}

func configMap(ns, name, value string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"key": value}}
}

func logOf(t *testing.T, repo *gitserver.SSHRepo) []string {
	t.Helper()
	if _, ok := gitserver.Refs(t, repo.Dir)["refs/heads/main"]; !ok {
		return nil
	}
	out := strings.Split(gitserver.Git(t, repo.Dir, "log", "--reverse", "--format=%s by %an", "main"), "\n")
	// The first commit is the snapshot of the empty namespace, if it had anything to write.
	return slices.DeleteFunc(out, func(s string) bool { return strings.HasPrefix(s, "[RECONCILE]") })
}

// One object waiting for its author holds back nothing else; it is committed, in order, once
// its author is known.
func TestAnObjectWaitingForItsAuthorHoldsBackNoOther(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	who := newAuthors()
	repo, _ := startPipeline(t, ns, who, time.Hour)

	who.learn("fast", "alice")
	g.Expect(env.Client.Create(t.Context(), configMap(ns, "slow", "1"))).To(Succeed())
	g.Expect(env.Client.Create(t.Context(), configMap(ns, "fast", "1"))).To(Succeed())
	cm := configMap(ns, "fast", "2")
	g.Expect(env.Client.Update(t.Context(), cm)).To(Succeed())
	g.Eventually(func() []string { return logOf(t, repo) }).WithTimeout(30 * time.Second).Should(Equal([]string{
		"[CREATE] configmaps " + ns + "/fast by alice",
		"[UPDATE] configmaps " + ns + "/fast by alice",
	}))

	// slow changes again while it waits: both changes are committed, in order, once bob is known.
	g.Expect(env.Client.Update(t.Context(), configMap(ns, "slow", "2"))).To(Succeed())
	g.Consistently(func() []string { return logOf(t, repo) }).WithTimeout(time.Second).Should(HaveLen(2))
	who.learn("slow", "bob")
	g.Eventually(func() []string { return logOf(t, repo) }).WithTimeout(30 * time.Second).Should(Equal([]string{
		"[CREATE] configmaps " + ns + "/fast by alice",
		"[UPDATE] configmaps " + ns + "/fast by alice",
		"[CREATE] configmaps " + ns + "/slow by bob",
		"[UPDATE] configmaps " + ns + "/slow by bob",
	}))
	g.Expect(gitserver.Git(t, repo.Dir, "show", "main:live/"+ns+"/configmaps/slow.yaml")).To(ContainSubstring("key: \"2\""))
}

// A change nobody can be found for is committed as unattributed once the wait is over; a change
// that leaves the sanitized object as it was makes no commit at all.
func TestUnattributedAndUnchanged(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	repo, _ := startPipeline(t, ns, newAuthors(), 100*time.Millisecond)
	cm := configMap(ns, "cm", "1")
	g.Expect(env.Client.Create(t.Context(), cm)).To(Succeed())
	g.Eventually(func() []string { return logOf(t, repo) }).WithTimeout(30 * time.Second).Should(Equal([]string{
		"[CREATE] configmaps " + ns + "/cm by unattributed",
	}))
	cm.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"}
	g.Expect(env.Client.Update(t.Context(), cm)).To(Succeed())
	g.Consistently(func() []string { return logOf(t, repo) }).WithTimeout(2 * time.Second).Should(HaveLen(1))
	g.Expect(gitserver.Git(t, repo.Dir, "log", "-1", "--format=%(trailers:key=Kubernetes-User,valueonly)", "main")).To(Equal("unattributed"))
}

// With attribution off no author can come: a change is committed at once, not after the wait
// (an hour here), as unattributed.
func TestWithAttributionOffNothingWaitsForAnAuthor(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	repo, _ := startPipeline(t, ns, nil, time.Hour)
	g.Expect(env.Client.Create(t.Context(), configMap(ns, "cm", "1"))).To(Succeed())
	g.Eventually(func() []string { return logOf(t, repo) }).WithTimeout(30 * time.Second).Should(Equal([]string{
		"[CREATE] configmaps " + ns + "/cm by unattributed",
	}))
}

// With admission on one replica a fact is recorded before the API server writes: a change the
// index has no fact for when the watch delivers it will never have one, and is committed at
// once; an index that expects late facts (audit, other replicas) makes it wait.
func TestAChangeWaitsForItsAuthorOnlyWhileOneCanArrive(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	repo, _ := startPipeline(t, ns, attribution.NewIndex(attribution.IndexOptions{}), time.Hour)
	g.Expect(env.Client.Create(t.Context(), configMap(ns, "cm", "1"))).To(Succeed())
	g.Eventually(func() []string { return logOf(t, repo) }).WithTimeout(30 * time.Second).Should(Equal([]string{
		"[CREATE] configmaps " + ns + "/cm by unattributed",
	}))

	late := namespace(t)
	repo, _ = startPipeline(t, late, attribution.NewIndex(attribution.IndexOptions{LateFacts: true}), time.Hour)
	g.Expect(env.Client.Create(t.Context(), configMap(late, "cm", "1"))).To(Succeed())
	g.Consistently(func() []string { return logOf(t, repo) }).WithTimeout(3 * time.Second).Should(Or(BeEmpty(), Equal([]string{""})))
}

// A folder shared with the Git → cluster direction: the files of objects that a syncTo:
// kubernetes rule (or a rule with filters) selects are never removed or replaced by this
// direction (a filtered syncTo: git rule only edits its own fields in place), whether the cluster has the object or not; a file outside the layout this
// direction writes is never touched; syncTo: git objects are still written.
func TestAnotherDirectionsFilesAreLeftAlone(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	repo := gitserver.NewSSHRepo(t, "shared")
	deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web # a comment\n  namespace: " + ns + "\nspec: {}\n"
	seeded := map[string]string{
		"apps/" + ns + "/configmaps/from-git.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-git\n  namespace: " + ns + "\n  labels:\n    sync: kube\ndata:\n  key: git\n",
		"apps/" + ns + "/deployments.apps/web.yaml": deployment,
		"apps/kustomization.yaml":                   "resources: []\n",
		"apps/" + ns + "/by-hand.yaml":              "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: by-hand\n",
	}
	gitserver.PushFiles(t, repo.Dir, "main", "a person's manifests", seeded)
	// live-in-cluster is applied-direction too: the cluster has it, Git has its own version.
	live := configMap(ns, "live-in-cluster", "cluster")
	live.Labels = map[string]string{"sync": "kube"}
	g.Expect(env.Client.Create(t.Context(), live)).To(Succeed())
	gitserver.PushFiles(t, repo.Dir, "main", "another", map[string]string{
		"apps/" + ns + "/configmaps/live-in-cluster.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: live-in-cluster\n  namespace: " + ns + "\n  labels:\n    sync: kube\ndata:\n  key: git\n",
	})

	kube, err := route.Compile(configv1alpha1.ResourceRule{Resources: []string{"configmaps"}, SyncTo: configv1alpha1.SyncToKubernetes,
		Labels: &configv1alpha1.LabelSelector{MatchLabels: map[string]string{"sync": "kube"}}}, route.Scope{Namespace: ns})
	g.Expect(err).NotTo(HaveOccurred())
	capture, err := route.Compile(configv1alpha1.ResourceRule{Resources: []string{"configmaps"}}, route.Scope{Namespace: ns})
	g.Expect(err).NotTo(HaveOccurred())
	filtered, err := route.Compile(configv1alpha1.ResourceRule{Resources: []string{"deployments"}, Filters: []string{"/metadata/annotations"}}, route.Scope{Namespace: ns})
	g.Expect(err).NotTo(HaveOccurred())

	dyn, err := dynamic.NewForConfig(env.Config)
	g.Expect(err).NotTo(HaveOccurred())
	writers := &gitwriter.Registry{BaseDir: t.TempDir(), Log: testr.New(t)}
	p := New(Options{Watches: watch.New(dyn, watch.Options{Transform: manifest.Slim}), Writers: writers, AttributionWait: time.Millisecond, Log: testr.New(t)})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = writers.Start(ctx) }()
	go func() { defer wg.Done(); _ = p.Start(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	plan := Plan{
		Target: types.NamespacedName{Namespace: ns, Name: "apps"},
		Writer: gitwriter.Key{URL: repo.URL, Branch: "main"},
		Settings: gitwriter.Settings{
			Credentials: gitwriter.Credentials{SSHPrivateKey: repo.Key.PrivateKeyPEM, KnownHosts: []byte(repo.Server.KnownHosts())},
		},
		Folder: "apps",
		Sources: []Source{
			// The kubernetes rule comes first: a ConfigMap labelled sync=kube is applied, every
			// other ConfigMap is captured.
			{Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Namespace: ns, Rules: []*route.Matcher{kube, capture}},
			{Resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Namespace: ns, Rules: []*route.Matcher{filtered}},
		},
	}
	g.Eventually(func() error { return p.Apply(t.Context(), plan) }).WithTimeout(10 * time.Second).Should(Succeed())
	g.Eventually(func() bool { s, _ := p.Status(plan.Target); return s.Synced }).WithTimeout(30 * time.Second).Should(BeTrue())

	// A captured ConfigMap is written; an applied-direction one that changes in the cluster is not.
	g.Expect(env.Client.Create(t.Context(), configMap(ns, "captured", "1"))).To(Succeed())
	path := "main:apps/" + ns + "/configmaps/captured.yaml"
	g.Eventually(func() error {
		_, err := gitserver.Run(t.Context(), repo.Dir, nil, "cat-file", "-e", path)
		return err
	}).WithTimeout(30 * time.Second).Should(Succeed())
	live.Data = map[string]string{"key": "changed in the cluster"}
	g.Expect(env.Client.Update(t.Context(), live)).To(Succeed())
	// The object leaves every rule's selection in the cluster: Git still holds it as applied.
	live.Labels = nil
	g.Expect(env.Client.Update(t.Context(), live)).To(Succeed())
	g.Expect(env.Client.Create(t.Context(), configMap(ns, "marker", "1"))).To(Succeed())
	g.Eventually(func() error {
		_, err := gitserver.Run(t.Context(), repo.Dir, nil, "cat-file", "-e", "main:apps/"+ns+"/configmaps/marker.yaml")
		return err
	}).WithTimeout(30 * time.Second).Should(Succeed())
	// A full reconcile, as a resync would run it, removes nothing of theirs either.
	p.targets[plan.Target].requestReconcile("test")
	g.Expect(env.Client.Create(t.Context(), configMap(ns, "marker-2", "1"))).To(Succeed())
	g.Eventually(func() error {
		_, err := gitserver.Run(t.Context(), repo.Dir, nil, "cat-file", "-e", "main:apps/"+ns+"/configmaps/marker-2.yaml")
		return err
	}).WithTimeout(30 * time.Second).Should(Succeed())

	for file, content := range seeded {
		g.Expect(gitserver.Git(t, repo.Dir, "show", "main:"+file)+"\n").To(Equal(content), file)
	}
	g.Expect(gitserver.Git(t, repo.Dir, "show", "main:apps/"+ns+"/configmaps/live-in-cluster.yaml")).To(ContainSubstring("key: git"))
	g.Expect(gitserver.Git(t, repo.Dir, "log", "--format=%s", "main")).NotTo(ContainSubstring("removed"))
	g.Expect(logOf(t, repo)).To(Equal([]string{
		"a person's manifests by gitserver", "another by gitserver",
		"[CREATE] configmaps " + ns + "/captured by unattributed",
		"[CREATE] configmaps " + ns + "/marker by unattributed", "[CREATE] configmaps " + ns + "/marker-2 by unattributed",
	}))
}
