package v1alpha1_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
)

// One API server for the package: starting one takes seconds, and every test uses its own names.
var env *controlplane.Env

func TestMain(m *testing.M) {
	controlplane.Main(m, controlplane.Options{}, &env)
}

// sample reads one of the quick start's objects from config/samples.
func sample(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &obj.Object); err != nil {
		t.Fatalf("parsing %s: %v", file, err)
	}
	return obj
}

// set changes the field at a dotted path such as "spec.rules.0.operations"; numbers index lists.
func set(t *testing.T, obj map[string]any, path string, value any) {
	t.Helper()
	keys := strings.Split(path, ".")
	var cur any = obj
	for i, key := range keys {
		last := i == len(keys)-1
		switch node := cur.(type) {
		case map[string]any:
			if last {
				node[key] = value
				return
			}
			if _, ok := node[key]; !ok {
				node[key] = map[string]any{}
			}
			cur = node[key]
		case []any:
			idx, err := strconv.Atoi(key)
			if err != nil || idx >= len(node) {
				t.Fatalf("bad index %q in %s", key, path)
			}
			if last {
				node[idx] = value
				return
			}
			cur = node[idx]
		default:
			t.Fatalf("cannot descend into %s at %q", path, key)
		}
	}
}

// remove deletes the field at a dotted path.
func remove(t *testing.T, obj map[string]any, path string) {
	t.Helper()
	keys := strings.Split(path, ".")
	unstructured.RemoveNestedField(obj, keys...)
}

// containsSubset reports the first field of want that got lacks or holds differently.
func containsSubset(want, got any, at string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return at
		}
		for k, v := range w {
			if diff := containsSubset(v, g[k], at+"."+k); diff != "" {
				return diff
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return at
		}
		for i := range w {
			if diff := containsSubset(w[i], g[i], fmt.Sprintf("%s[%d]", at, i)); diff != "" {
				return diff
			}
		}
		return ""
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return fmt.Sprintf("%s: want %v, got %v", at, want, got)
		}
		return ""
	}
}

func TestQuickStartSamplesAreAcceptedUnchanged(t *testing.T) {
	g := NewWithT(t)
	ns := "default"
	for _, file := range []string{"gitprovider.yaml", "gittarget.yaml", "watchrule.yaml", "clusterwatchrule.yaml"} {
		t.Run(file, func(t *testing.T) {
			obj := sample(t, file)
			want := obj.DeepCopy().Object
			if obj.GetKind() != "ClusterWatchRule" {
				obj.SetNamespace(ns)
			}
			g.Expect(env.Client.Create(t.Context(), obj)).To(Succeed())

			stored := &unstructured.Unstructured{}
			stored.SetGroupVersionKind(obj.GroupVersionKind())
			g.Expect(env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), stored)).To(Succeed())
			delete(want, "metadata")
			g.Expect(containsSubset(want, stored.Object, "")).To(BeEmpty(), "the API server changed a field of the sample")
		})
	}
}

func TestDefaultsAreFilledIn(t *testing.T) {
	g := NewWithT(t)
	provider := sample(t, "gitprovider.yaml")
	provider.SetName("defaults")
	provider.SetNamespace("default")
	remove(t, provider.Object, "spec.push")
	g.Expect(env.Client.Create(t.Context(), provider)).To(Succeed())
	g.Expect(provider.Object["spec"]).To(HaveKeyWithValue("push", map[string]any{"interval": "5s", "maxCommits": int64(20)}))

	rule := sample(t, "watchrule.yaml")
	rule.SetName("defaults")
	rule.SetNamespace("default")
	g.Expect(env.Client.Create(t.Context(), rule)).To(Succeed())
	rules, _, _ := unstructured.NestedSlice(rule.Object, "spec", "rules")
	g.Expect(rules[0]).To(HaveKeyWithValue("syncTo", "git"))
}

func TestValidObjectsAreAccepted(t *testing.T) {
	cases := []struct {
		name, file, path string
		value            any
	}{
		{"interval 0s pushes at once", "gitprovider.yaml", "spec.push.interval", "0s"},
		{"compound interval", "gitprovider.yaml", "spec.push.interval", "1m30s"},
		{"ssh url with port", "gitprovider.yaml", "spec.url", "ssh://git@git.example.com:2222/team/repo.git"},
		{"https url", "gitprovider.yaml", "spec.url", "https://gitea.example.com/team/repo.git"},
		{"file url", "gitprovider.yaml", "spec.url", "file:///var/lib/git/repo.git"},
		{"nested path", "gittarget.yaml", "spec.path", "clusters/prod/live"},
		{"dotted folder name", "gittarget.yaml", "spec.path", "clusters/prod.eu"},
		{"branch with slashes", "gittarget.yaml", "spec.branch", "env/prod-eu"},
		{"public key recipient", "gittarget.yaml", "spec.encryption.age.recipients.publicKeys",
			[]any{"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"}},
		{"label selector", "watchrule.yaml", "spec.rules.0.labels",
			map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "In", "values": []any{"web"}}}}},
		{"filters", "watchrule.yaml", "spec.rules.0.filters", []any{"/metadata/annotations", "/spec/template/spec/containers/*/image", "/metadata/labels/app.kubernetes.io~1name"}},
		{"syncTo kubernetes", "watchrule.yaml", "spec.rules.0.syncTo", "kubernetes"},
		{"all operations", "watchrule.yaml", "spec.rules.0.operations", []any{"*"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := sample(t, tc.file)
			obj.SetName(fmt.Sprintf("valid-%d", i))
			obj.SetNamespace("default")
			set(t, obj.Object, tc.path, tc.value)
			NewWithT(t).Expect(env.Client.Create(t.Context(), obj, client.DryRunAll)).To(Succeed())
		})
	}
}

func TestInvalidObjectsAreRejectedWithReadableMessages(t *testing.T) {
	cases := []struct {
		name, file, path string
		value            any // nil removes the field
		message          string
	}{
		{"path with ..", "gittarget.yaml", "spec.path", "../outside", "path must not contain '..'"},
		{"path with .. in the middle", "gittarget.yaml", "spec.path", "a/../../b", "path must not contain '..'"},
		{"absolute path", "gittarget.yaml", "spec.path", "/etc/passwd", "path must be relative to the repository root"},
		{"path into .git", "gittarget.yaml", "spec.path", ".git/hooks", "path must not point into .git"},
		{"path with backslash", "gittarget.yaml", "spec.path", `a\b`, "path must use / as separator"},
		{"repository root as path", "gittarget.yaml", "spec.path", ".", "path must name a folder below the repository root"},
		{"empty path", "gittarget.yaml", "spec.path", "", "should be at least 1 chars long"},
		{"branch with ..", "gittarget.yaml", "spec.branch", "a..b", "branch is not a valid Git branch name"},
		{"branch with space", "gittarget.yaml", "spec.branch", "my branch", "branch may only contain"},
		{"branch ending in .lock", "gittarget.yaml", "spec.branch", "main.lock", "branch is not a valid Git branch name"},
		{"malformed age key", "gittarget.yaml", "spec.encryption.age.recipients.publicKeys", []any{"age1-evil-plugin"}, "each public key must be an age X25519 recipient"},
		{"age plugin recipient", "gittarget.yaml", "spec.encryption.age.recipients.publicKeys", []any{"age1yubikey1qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvb"}, "each public key must be an age X25519 recipient"},
		{"extractFromSecret without secretRef", "gittarget.yaml", "spec.encryption.secretRef", nil, "secretRef is required when age.recipients.extractFromSecret"},
		{"age enabled without recipients", "gittarget.yaml", "spec.encryption.age.recipients", map[string]any{}, "age encryption needs recipients"},
		{"unknown encryption provider", "gittarget.yaml", "spec.encryption.provider", "vault", `Unsupported value: "vault"`},
		{"maxCommits 0", "gitprovider.yaml", "spec.push.maxCommits", 0, "should be greater than or equal to 1"},
		{"negative maxCommits", "gitprovider.yaml", "spec.push.maxCommits", -5, "should be greater than or equal to 1"},
		{"interval in words", "gitprovider.yaml", "spec.push.interval", "five seconds", "interval must be a duration such as 0s, 500ms, 5s or 1m"},
		{"interval without unit", "gitprovider.yaml", "spec.push.interval", "5", "interval must be a duration"},
		{"negative interval", "gitprovider.yaml", "spec.push.interval", "-5s", "interval must be a duration"},
		{"url that is no Git URL", "gitprovider.yaml", "spec.url", "github.com/me/repo", "url must be a Git URL"},
		{"url with credentials", "gitprovider.yaml", "spec.url", "https://me:hunter2@github.com/me/repo.git", "url must not carry credentials"},
		{"no allowed branches", "gitprovider.yaml", "spec.allowedBranches", []any{}, "should have at least 1 items"},
		{"bad committer email", "gitprovider.yaml", "spec.committer", map[string]any{"name": "bot", "email": "bot"}, "email must look like name@example.com"},
		{"known hosts from two places", "gitprovider.yaml", "spec.knownHosts", map[string]any{"secretRef": map[string]any{"name": "a"}, "configMapRef": map[string]any{"name": "b"}}, "knownHosts needs exactly one of secretRef or configMapRef"},
		{"unknown signing format", "gitprovider.yaml", "spec.signing", map[string]any{"secretRef": map[string]any{"name": "k"}, "format": "x509"}, `Unsupported value: "x509"`},
		{"unknown operation", "watchrule.yaml", "spec.rules.0.operations", []any{"CREATE", "PATCH"}, `Unsupported value: "PATCH"`},
		{"syncTo typo", "watchrule.yaml", "spec.rules.0.syncTo", "gti", `Unsupported value: "gti": supported values: "git", "kubernetes"`},
		{"empty rules", "watchrule.yaml", "spec.rules", []any{}, "rules must list at least one rule"},
		{"missing rules", "watchrule.yaml", "spec.rules", nil, "spec.rules: Required value"},
		{"rule without resources", "watchrule.yaml", "spec.rules.0.resources", []any{}, "should have at least 1 items"},
		{"resource as a kind", "watchrule.yaml", "spec.rules.0.resources", []any{"ConfigMap"}, "each resource must be a lowercase plural name"},
		{"filter that is no JSON pointer", "watchrule.yaml", "spec.rules.0.filters", []any{"metadata.annotations"}, "each filter must be a JSON pointer"},
		{"In without values", "watchrule.yaml", "spec.rules.0.labels", map[string]any{"matchExpressions": []any{map[string]any{"key": "a", "operator": "In"}}}, "values must be set for In and NotIn"},
		{"missing target", "watchrule.yaml", "spec.targetRef", nil, "spec.targetRef: Required value"},
		{"namespaceSelector on cluster scope", "clusterwatchrule.yaml", "spec.rules.0.namespaceSelector", map[string]any{"matchLabels": map[string]any{"a": "b"}}, "namespaceSelector applies to namespaced resources only"},
		{"cluster rule target without namespace", "clusterwatchrule.yaml", "spec.targetRef.namespace", nil, "spec.targetRef.namespace: Required value"},
		{"unknown scope", "clusterwatchrule.yaml", "spec.rules.0.scope", "Global", `Unsupported value: "Global"`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := sample(t, tc.file)
			obj.SetName(fmt.Sprintf("invalid-%d", i))
			if obj.GetKind() != "ClusterWatchRule" {
				obj.SetNamespace("default")
			}
			if tc.value == nil {
				remove(t, obj.Object, tc.path)
			} else {
				set(t, obj.Object, tc.path, tc.value)
			}
			err := env.Client.Create(t.Context(), obj)
			g.Expect(err).To(HaveOccurred(), "the API server accepted an invalid %s", obj.GetKind())
			g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			g.Expect(err.Error()).To(ContainSubstring(tc.message))
			t.Log(err)
		})
	}
}
