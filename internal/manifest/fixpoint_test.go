package manifest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
)

// The test of record for Sanitize: for every built-in resource the test API server serves, an
// object recreated from the sanitized YAML sanitizes to the same bytes, and `kubectl apply -R`
// of a folder of such YAML recreates the objects in an empty cluster.

// source holds the sample objects; target is an empty cluster they are recreated in.
var source, target *controlplane.Env

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// clusterOptions start a plain cluster. envtest disables the ServiceAccount admission plugin,
// which every real cluster runs and which adds a token volume to each pod: enable it again.
var clusterOptions = controlplane.Options{
	WithoutCRDs:    true,
	APIServerFlags: map[string]string{"disable-admission-plugins": ""},
}

func run(m *testing.M) (int, error) {
	ctx := context.Background()
	var err error
	if source, err = controlplane.Start(ctx, clusterOptions); err != nil {
		return 1, err
	}
	defer stop(source)
	if target, err = controlplane.Start(ctx, clusterOptions); err != nil {
		return 1, err
	}
	defer stop(target)
	return m.Run(), nil
}

func stop(env *controlplane.Env) {
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// resource is one served resource in its preferred version.
type resource struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

func (r resource) groupResource() schema.GroupResource { return r.gvr.GroupResource() }

// served lists the resources an API server serves that can be created, read and listed, and
// the names of all it serves, subresources aside.
func served(cfg *rest.Config) (map[schema.GroupResource]resource, map[schema.GroupResource]bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		return nil, nil, fmt.Errorf("discovering resources: %w", err)
	}
	out := map[schema.GroupResource]resource{}
	all := map[schema.GroupResource]bool{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // subresource
			}
			all[gv.WithResource(r.Name).GroupResource()] = true
			if !slices.Contains(r.Verbs, "create") || !slices.Contains(r.Verbs, "get") || !slices.Contains(r.Verbs, "list") {
				continue
			}
			res := resource{gvr: gv.WithResource(r.Name), kind: r.Kind, namespaced: r.Namespaced}
			out[res.groupResource()] = res
		}
	}
	return out, all, nil
}

// sampled is one object of the source, as the source serves it.
type sampled struct {
	res resource
	obj *unstructured.Unstructured
}

func (s sampled) String() string {
	name := s.obj.GetName()
	if ns := s.obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return s.res.groupResource().String() + "/" + name
}

// inventory is what the source serves and the objects that cover it, made once per test binary.
type inventory struct {
	served    map[schema.GroupResource]resource
	samples   []sampled
	uncovered []string // served resources neither excluded nor covered by a sample
	unused    []string // exclusions of resources the source does not serve
}

var (
	inventoryOnce sync.Once
	inventoryOf   *inventory
	inventoryErr  error
)

// sources returns the source's resources and one or more sample objects of each covered one,
// creating the samples on first use.
func sources(t *testing.T) *inventory {
	t.Helper()
	inventoryOnce.Do(func() { inventoryOf, inventoryErr = collect(context.Background()) })
	if inventoryErr != nil {
		t.Fatal(inventoryErr)
	}
	return inventoryOf
}

func collect(ctx context.Context) (*inventory, error) {
	srv, all, err := served(source.Config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(source.Config)
	if err != nil {
		return nil, err
	}
	byKind := map[schema.GroupKind]resource{}
	for _, r := range srv {
		byKind[schema.GroupKind{Group: r.gvr.Group, Kind: r.kind}] = r
	}
	inv := &inventory{served: srv}
	covered := map[schema.GroupResource]bool{}
	seen := map[string]bool{}
	add := func(r resource, obj *unstructured.Unstructured) {
		s := sampled{res: r, obj: obj}
		if !seen[s.String()] {
			seen[s.String()] = true
			inv.samples = append(inv.samples, s)
			covered[r.groupResource()] = true
		}
	}

	objs, err := sampleObjects()
	if err != nil {
		return nil, err
	}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		r, ok := byKind[gvk.GroupKind()]
		if !ok {
			continue // a sample of a resource this Kubernetes version does not serve
		}
		if r.gvr.Version != gvk.Version {
			return nil, fmt.Errorf("sample %s %s is of %s, but the API server prefers %s: update the sample",
				gvk.Kind, obj.GetName(), gvk.GroupVersion(), r.gvr.GroupVersion())
		}
		if _, excluded := exclusions[r.groupResource()]; excluded {
			return nil, fmt.Errorf("%s has a sample and an exclusion", r.groupResource())
		}
		client := resourceClient(dyn, r, obj.GetNamespace())
		created, err := client.Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("creating sample %s %s in the source: %w", gvk.Kind, obj.GetName(), err)
		}
		// Read it back the way the operator sees it: from a GET, not the create response.
		got, err := client.Get(ctx, created.GetName(), metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		add(r, got)
	}

	for _, ref := range existingObjects {
		r, ok := srv[ref.resource]
		if !ok {
			return nil, fmt.Errorf("existing object %s/%s: %s is not served", ref.namespace, ref.name, ref.resource)
		}
		got, err := resourceClient(dyn, r, ref.namespace).Get(ctx, ref.name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("existing object %s %s/%s: %w", ref.resource, ref.namespace, ref.name, err)
		}
		add(r, got)
	}

	for gr := range exclusions {
		if !all[gr] {
			inv.unused = append(inv.unused, gr.String())
		}
	}
	for gr := range srv {
		if _, excluded := exclusions[gr]; !excluded && !covered[gr] {
			inv.uncovered = append(inv.uncovered, gr.String())
		}
	}
	sort.Strings(inv.uncovered)
	sort.Strings(inv.unused)
	// Namespaces first, so that recreating in order finds each object's namespace.
	sort.SliceStable(inv.samples, func(i, j int) bool {
		return inv.samples[i].res.kind == "Namespace" && inv.samples[j].res.kind != "Namespace"
	})
	return inv, nil
}

func resourceClient(dyn dynamic.Interface, r resource, namespace string) dynamic.ResourceInterface {
	if r.namespaced {
		return dyn.Resource(r.gvr).Namespace(namespace)
	}
	return dyn.Resource(r.gvr)
}

// TestEveryServedResourceIsCoveredOrExcluded fails when a Kubernetes version serves a resource
// that no sample covers and no exclusion explains, so that new resources are looked at.
func TestEveryServedResourceIsCoveredOrExcluded(t *testing.T) {
	g := NewWithT(t)
	inv := sources(t)
	g.Expect(inv.uncovered).To(BeEmpty(),
		"served resources without a sample in samples_test.go and without an exclusion")
	g.Expect(inv.unused).To(BeEmpty(), "exclusions of resources the API server does not serve")
	excluded := 0
	for gr := range exclusions {
		if _, ok := inv.served[gr]; ok {
			excluded++
		}
	}
	t.Logf("%d served resources with create, get and list: %d covered by %d objects, %d excluded",
		len(inv.served), len(inv.served)-excluded, len(inv.samples), excluded)
}

// TestSlimObjectsSanitizeToTheSameBytes: what watches keep of every live sample sanitizes as the
// full object does.
func TestSlimObjectsSanitizeToTheSameBytes(t *testing.T) {
	inv := sources(t)
	for _, s := range inv.samples {
		full, err := Encode(Sanitize(s.obj))
		if err != nil {
			t.Fatal(err)
		}
		slim, err := Encode(Sanitize(Slim(s.obj.DeepCopy())))
		if err != nil {
			t.Fatal(err)
		}
		if string(slim) != string(full) {
			t.Errorf("%s sanitizes differently when slim (- full, + slim):\n%s", s, lineDiff(string(full), string(slim)))
		}
	}
	if len(inv.samples) < 50 {
		t.Fatalf("only %d live samples", len(inv.samples))
	}
}

// TestRecreatedObjectsSanitizeToTheSameBytes recreates every sample in the target from its
// sanitized YAML and requires the recreated object to sanitize to the same bytes.
func TestRecreatedObjectsSanitizeToTheSameBytes(t *testing.T) {
	inv := sources(t)
	dyn, err := dynamic.NewForConfig(target.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range inv.samples {
		t.Run(s.String(), func(t *testing.T) {
			g := NewWithT(t)
			first, err := Encode(Sanitize(s.obj))
			g.Expect(err).NotTo(HaveOccurred())
			ensureNamespace(t, dyn, s.obj.GetNamespace())

			recreated := parse(t, string(first))
			client := resourceClient(dyn, s.res, recreated.GetNamespace())
			current, err := client.Get(t.Context(), recreated.GetName(), metav1.GetOptions{})
			switch {
			case err == nil:
				// The target bootstrapped the same object (the default namespace, system
				// roles): write the YAML over it the way kubectl apply would.
				recreated.SetResourceVersion(current.GetResourceVersion())
				_, err = client.Update(t.Context(), recreated, metav1.UpdateOptions{})
			case apierrors.IsNotFound(err):
				_, err = client.Create(t.Context(), recreated, metav1.CreateOptions{})
			}
			g.Expect(err).NotTo(HaveOccurred(), "recreating from:\n%s", first)

			readBack, err := client.Get(t.Context(), recreated.GetName(), metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			second, err := Encode(Sanitize(readBack))
			g.Expect(err).NotTo(HaveOccurred())
			if string(second) != string(first) {
				t.Errorf("recreated %s sanitizes differently (- from the source, + recreated):\n%s",
					s, lineDiff(string(first), string(second)))
			}
		})
	}
}

// TestKubectlApplyRecreatesTheFolder writes every sample where the operator would and applies the
// folder with the real kubectl to an empty API server of its own.
func TestKubectlApplyRecreatesTheFolder(t *testing.T) {
	g := NewWithT(t)
	inv := sources(t)
	root := t.TempDir()
	for _, s := range inv.samples {
		data, err := Encode(Sanitize(s.obj))
		g.Expect(err).NotTo(HaveOccurred())
		file, err := Path(root, s.res.groupResource(), s.obj.GetNamespace(), s.obj.GetName(), ".yaml")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(os.MkdirAll(filepath.Dir(file), 0o755)).To(Succeed())
		g.Expect(os.WriteFile(file, data, 0o644)).To(Succeed())
	}

	// A third, empty API server: the fixpoint test already recreated the objects in target.
	empty, err := controlplane.Start(t.Context(), clusterOptions)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { stop(empty) })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(empty.WriteKubeconfig(kubeconfig)).To(Succeed())

	// Files are applied in walk order: _cluster (namespaces) sorts before the namespaces' folders.
	// Client-side apply, as a user would run it: server-side apply conflicts with kube-apiserver
	// over fields of bootstrapped objects it manages unless forced.
	apply := func() ([]byte, error) {
		return exec.CommandContext(t.Context(), empty.Kubectl, "--kubeconfig", kubeconfig, "apply", "-R", "-f", root).
			CombinedOutput()
	}
	out, err := apply()
	if err != nil {
		// Pods sort before service accounts, and the ServiceAccount admission plugin rejects a
		// pod whose service account does not exist yet (in a real cluster the controller
		// manager would also create the namespace's default one; this one has none). That,
		// and only that, is fixed by applying again, as a GitOps tool reconciling would.
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "Error from server") {
				g.Expect(line).To(MatchRegexp(`error looking up service account \S+: serviceaccount "\S+" not found`))
			}
		}
		out, err = apply()
	}
	g.Expect(err).NotTo(HaveOccurred(), "kubectl apply -R -f %s:\n%s", root, out)

	dyn, err := dynamic.NewForConfig(empty.Config)
	g.Expect(err).NotTo(HaveOccurred())
	for _, s := range inv.samples {
		got, err := resourceClient(dyn, s.res, s.obj.GetNamespace()).Get(t.Context(), s.obj.GetName(), metav1.GetOptions{})
		if !g.Expect(err).NotTo(HaveOccurred(), "%s after kubectl apply", s) {
			continue
		}
		want, _ := Encode(Sanitize(s.obj))
		have, _ := Encode(Sanitize(got))
		if string(have) != string(want) {
			t.Errorf("%s applied by kubectl sanitizes differently (- from the source, + applied):\n%s",
				s, lineDiff(string(want), string(have)))
		}
	}
}

// TestSanitizeTellsChosenFromAddedOnLiveObjects checks, on the source's objects, that Sanitize
// keeps values the user chose and drops what the cluster allocated or added. The fixpoint alone
// cannot tell: an added value sent back on recreation (an old token volume's name) is kept by
// the API server and sanitizes to the same bytes.
func TestSanitizeTellsChosenFromAddedOnLiveObjects(t *testing.T) {
	inv := sources(t)
	yamlOf := map[string]string{}
	for _, s := range inv.samples {
		data, err := Encode(Sanitize(s.obj))
		if err != nil {
			t.Fatal(err)
		}
		yamlOf[s.String()] = string(data)
	}
	cases := []struct {
		object, field string
		kept          bool
	}{
		{"services/fixpoint/web-fixed-nodeport", "nodePort: 30080", true},
		{"services/fixpoint/web-nodeport", "nodePort:", false},
		{"services/fixpoint/web", "clusterIP", false},
		{"services/fixpoint/web-lb", "healthCheckNodePort", false},
		{"services/fixpoint/db", "clusterIP: None", true},
		{"persistentvolumeclaims/fixpoint/prebound", "volumeName: local-data", true},
		{"persistentvolumeclaims/fixpoint/data", "volumeName", false},
		{"jobs.batch/fixpoint/manual", "job: manual", true},
		{"jobs.batch/fixpoint/migrate", "controller-uid", false},
		{"certificatesigningrequests.certificates.k8s.io/alice", "username", false},
		{"pods/fixpoint/standalone", "kube-api-access-", false},
		{"pods/fixpoint/standalone", "/var/run/secrets/kubernetes.io/serviceaccount", false},
		{"pods/fixpoint/standalone", "kubernetes.io/limit-ranger", false},
		{"pods/fixpoint/standalone", "cpu: 500m", true}, // the LimitRange's default, kept
		{"pods/fixpoint/projected", "kube-api-access-mine", true},
		{"nodes/worker-1", "node.kubernetes.io/not-ready", false},
		{"nodes/worker-1", "key: dedicated", true},
		{"statefulsets.apps/fixpoint/db", "phase: Pending", false},
		{"daemonsets.apps/fixpoint/agent", "deprecated.daemonset.template.generation", false},
		{"devicetaintrules.resource.k8s.io/gpu-0-maintenance", "timeAdded", false},
		{"resourceslices.resource.k8s.io/worker-1-gpu", "timeAdded", false},
	}
	for _, tc := range cases {
		t.Run(tc.object+" "+tc.field, func(t *testing.T) {
			g := NewWithT(t)
			doc, ok := yamlOf[tc.object]
			g.Expect(ok).To(BeTrue(), "no sample %s", tc.object)
			if tc.kept {
				g.Expect(doc).To(ContainSubstring(tc.field))
			} else {
				g.Expect(doc).NotTo(ContainSubstring(tc.field))
			}
		})
	}
}

func ensureNamespace(t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	if name == "" {
		return
	}
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name},
	}}
	_, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).
		Create(t.Context(), ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// lineDiff shows the lines of a and b that differ, with a line of context, from their longest
// common subsequence.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var lines []string
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, "  "+x[i])
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, "+ "+y[j])
			j++
		default:
			lines = append(lines, "- "+x[i])
			i++
		}
	}
	// Keep changed lines and one line around each.
	var out []string
	for k, l := range lines {
		near := func(n int) bool { return n >= 0 && n < len(lines) && !strings.HasPrefix(lines[n], "  ") }
		if near(k) || near(k-1) || near(k+1) {
			out = append(out, l)
		} else if len(out) > 0 && out[len(out)-1] != "  ..." {
			out = append(out, "  ...")
		}
	}
	return strings.Join(out, "\n")
}
