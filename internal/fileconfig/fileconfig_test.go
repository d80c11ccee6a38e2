package fileconfig

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// readmeExample is git-controller's README example, trailing space included.
const readmeExample = `kinds:
- kind: VolumeSnapshot
  group: snapshot.storage.k8s.io
  apiVersion: v1alpha1
- kind: VolumeSnapshotContent
  group: snapshot.storage.k8s.io
  apiVersion: v1alpha1
rules:
- apiGroups:
  - snapshot.storage.k8s.io
  resources: 
  - volumesnapshots
  - volumesnapshotcontents
  syncTo: kubernetes
`

func TestParseReadmeExample(t *testing.T) {
	g := NewWithT(t)
	cfg, err := Parse([]byte(readmeExample))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cfg.Rules).To(Equal([]configv1alpha1.ResourceRule{{
		APIGroups:   []string{"snapshot.storage.k8s.io"},
		APIVersions: []string{"v1alpha1"},
		Resources:   []string{"volumesnapshots", "volumesnapshotcontents"},
		SyncTo:      configv1alpha1.SyncToKubernetes,
	}}))
	g.Expect(cfg.Kinds).To(Equal([]Kind{
		{Kind: "VolumeSnapshot", Group: "snapshot.storage.k8s.io", APIVersion: "v1alpha1"},
		{Kind: "VolumeSnapshotContent", Group: "snapshot.storage.k8s.io", APIVersion: "v1alpha1"},
	}))
}

func TestParseRule(t *testing.T) {
	cases := []struct {
		name string
		rule string
		want configv1alpha1.ResourceRule
	}{
		{"an empty rule matches everything and syncs to git", "{}",
			configv1alpha1.ResourceRule{Resources: []string{"*"}, SyncTo: configv1alpha1.SyncToGit}},
		{"the core group is kept", "{apiGroups: [''], resources: [configmaps], syncTo: git}",
			configv1alpha1.ResourceRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, SyncTo: configv1alpha1.SyncToGit}},
		{"filters are kept", "{filters: [/metadata/annotations, '/spec/template/spec/containers/*/image', /a~1b]}",
			configv1alpha1.ResourceRule{Resources: []string{"*"}, SyncTo: configv1alpha1.SyncToGit,
				Filters: []string{"/metadata/annotations", "/spec/template/spec/containers/*/image", "/a~1b"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			cfg, err := Parse([]byte("rules:\n- " + c.rule + "\n"))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cfg.Rules).To(Equal([]configv1alpha1.ResourceRule{c.want}))
		})
	}
}

func TestParseLabels(t *testing.T) {
	type expr = configv1alpha1.LabelSelectorRequirement
	cases := []struct {
		labels string
		want   *configv1alpha1.LabelSelector
	}{
		{"", nil},
		{"app=web", &configv1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		{"app==web", &configv1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		{"app in (web)", &configv1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		{"tier!=db", &configv1alpha1.LabelSelector{MatchExpressions: []expr{{Key: "tier", Operator: "NotIn", Values: []string{"db"}}}}},
		{"env in (prod, dev)", &configv1alpha1.LabelSelector{MatchExpressions: []expr{{Key: "env", Operator: "In", Values: []string{"dev", "prod"}}}}},
		{"env notin (qa,dev)", &configv1alpha1.LabelSelector{MatchExpressions: []expr{{Key: "env", Operator: "NotIn", Values: []string{"dev", "qa"}}}}},
		{"gpu", &configv1alpha1.LabelSelector{MatchExpressions: []expr{{Key: "gpu", Operator: "Exists"}}}},
		{"!legacy", &configv1alpha1.LabelSelector{MatchExpressions: []expr{{Key: "legacy", Operator: "DoesNotExist"}}}},
		{"app=web,tier!=db", &configv1alpha1.LabelSelector{
			MatchLabels:      map[string]string{"app": "web"},
			MatchExpressions: []expr{{Key: "tier", Operator: "NotIn", Values: []string{"db"}}},
		}},
		{"a=1,a=2", &configv1alpha1.LabelSelector{
			MatchLabels:      map[string]string{"a": "1"},
			MatchExpressions: []expr{{Key: "a", Operator: "In", Values: []string{"2"}}},
		}},
	}
	for _, c := range cases {
		t.Run(c.labels, func(t *testing.T) {
			g := NewWithT(t)
			cfg, err := Parse([]byte("rules:\n- labels: '" + c.labels + "'\n"))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cfg.Rules[0].Labels).To(Equal(c.want))
		})
	}
}

func TestAPIVersions(t *testing.T) {
	g := NewWithT(t)
	cfg, err := Parse([]byte(`kinds:
- {kind: Deployment, group: apps, apiVersion: v1}
- {kind: ReplicaSet, group: apps, apiVersion: apps/v1}
- {kind: DaemonSet, group: extensions, apiVersion: v1beta1}
- {kind: StatefulSet, group: apps, apiVersion: v1beta2}
rules:
- {apiGroups: [apps]}
- {}
- {apiGroups: ['*']}
- {apiGroups: ['']}
- {apiGroups: [extensions, batch]}
`))
	g.Expect(err).NotTo(HaveOccurred())
	var got [][]string
	for _, r := range cfg.Rules {
		got = append(got, r.APIVersions)
	}
	g.Expect(got).To(Equal([][]string{{"v1", "v1beta2"}, {"v1", "v1beta1", "v1beta2"}, {"v1", "v1beta1", "v1beta2"}, nil, {"v1beta1"}}))

	k, ok := cfg.KindFor("apps", "ReplicaSet")
	g.Expect(ok).To(BeTrue())
	g.Expect(k).To(Equal(Kind{Kind: "ReplicaSet", Group: "apps", APIVersion: "v1"}))
	_, ok = cfg.KindFor("", "ReplicaSet")
	g.Expect(ok).To(BeFalse())
}

func TestParseErrors(t *testing.T) {
	const ok = "- {}\n"
	cases := []struct {
		name, file, err string
	}{
		{"an empty file", "", "rules: at least one rule is required"},
		{"no rules", "kinds: []\nrules: []\n", "rules: at least one rule is required"},
		{"an unknown rule field", "rules:\n- syncTo: git\n  sync: git\n", `rules[0]: unknown field "sync"`},
		{"unknown kind fields", "kinds:\n- {Kind: A, version: v1}\nrules:\n" + ok, `kinds[0]: unknown fields "Kind", "version"`},
		{"an unknown top-level field", "rule:\n" + ok, `the file: unknown field "rule"`},
		{"a list for a file", "- a\n", "the file: must be a mapping"},
		{"a bare list item", "rules:\n-\n", "rules[0]: must be a mapping"},
		{"a string for a list", "rules:\n- apiGroups: apps\n", "rules[0].apiGroups: must be a list of strings"},
		{"a number for a string", "kinds:\n- {kind: A, apiVersion: 1}\nrules:\n" + ok, "kinds[0].apiVersion: must be a string"},
		{"a repeated key", "rules:\n" + ok + "rules:\n" + ok, `invalid YAML: yaml: unmarshal errors: line 4: key "rules" already set in map`},
		{"a missing kind", "kinds:\n- {group: apps, apiVersion: v1}\nrules:\n" + ok, "kinds[0].kind: required"},
		{"a bad kind", "kinds:\n- {kind: my_kind, apiVersion: v1}\nrules:\n" + ok,
			`kinds[0].kind: "my_kind" is not a kind such as Deployment (letters, digits and -, starting with a letter)`},
		{"a bad group", "kinds:\n- {kind: A, group: Apps, apiVersion: v1}\nrules:\n" + ok,
			`kinds[0].group: "Apps" is not an API group such as apps or snapshot.storage.k8s.io`},
		{"a missing apiVersion", "kinds:\n- {kind: Deployment, group: apps}\nrules:\n" + ok, "kinds[0].apiVersion: required"},
		{"another group's apiVersion", "kinds:\n- {kind: Deployment, group: extensions, apiVersion: apps/v1}\nrules:\n" + ok,
			`kinds[0].apiVersion: "apps/v1" is in group "apps", but the kind's group is "extensions"`},
		{"an apiVersion with an empty group", "kinds:\n- {kind: Pod, apiVersion: /v1}\nrules:\n" + ok,
			`kinds[0].apiVersion: "/v1" has an empty group; write the version alone`},
		{"a bad version", "kinds:\n- {kind: Pod, apiVersion: V1}\nrules:\n" + ok, `kinds[0].apiVersion: "V1" is not a version such as v1 or v1beta1`},
		{"a kind listed twice", "kinds:\n- {kind: Deployment, group: apps, apiVersion: v1}\n- {kind: Deployment, group: apps, apiVersion: v1beta1}\nrules:\n" + ok,
			"kinds[1]: Deployment.apps is already listed as kinds[0]"},
		{"a bad syncTo", "rules:\n" + ok + "- syncTo: cluster\n", `rules[1].syncTo: must be "git" or "kubernetes", not "cluster"`},
		{"a filter without /", "rules:\n" + ok + ok + "- filters: [metadata]\n", `rules[2].filters[0]: "metadata" is not a JSON pointer (it must start with /)`},
		{"a filter with a bad escape", "rules:\n- filters: [/ok, /a~2]\n", `rules[0].filters[1]: "/a~2" is not a JSON pointer (escape ~ as ~0 and / as ~1)`},
		{"a repeated filter", "rules:\n- filters: [/a, /a]\n", `rules[0].filters[1]: "/a" repeats rules[0].filters[0]`},
		{"a bad resource", "rules:\n- resources: [Deployments]\n", `rules[0].resources[0]: "Deployments" is not a resource (a lowercase plural name such as deployments, or *)`},
		{"a subresource", "rules:\n- resources: [deployments/scale]\n", `rules[0].resources[0]: "deployments/scale" is not a resource (a lowercase plural name such as deployments, or *)`},
		{"a bad API group", "rules:\n- apiGroups: ['', Apps]\n", `rules[0].apiGroups[1]: "Apps" is not an API group ("" for the core group, a name such as apps, or *)`},
		{"a greater-than selector", "rules:\n- labels: replicas>3\n", `rules[0].labels: "replicas>3": our label selectors cannot compare with > (only =, ==, !=, in, notin, exists and !)`},
		{"a less-than selector", "rules:\n- labels: 'app=web,replicas<3'\n", `rules[0].labels: "app=web,replicas<3": our label selectors cannot compare with < (only =, ==, !=, in, notin, exists and !)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			cfg, err := Parse([]byte(c.file))
			g.Expect(cfg).To(BeNil())
			g.Expect(err).To(MatchError(c.err))
		})
	}
}

func TestParseInvalidSelector(t *testing.T) {
	g := NewWithT(t)
	_, err := Parse([]byte("rules:\n- labels: a===\n"))
	// The rest is apimachinery's parser speaking.
	g.Expect(err).To(MatchError(HavePrefix(`rules[0].labels: invalid selector "a===": `)))
}

func TestLoad(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()

	missing := filepath.Join(dir, "missing.yaml")
	_, err := Load(missing)
	g.Expect(err).To(MatchError(missing + ": no such file or directory"))
	g.Expect(err).To(MatchError(fs.ErrNotExist))

	good := filepath.Join(dir, "config.yaml")
	g.Expect(os.WriteFile(good, []byte(readmeExample), 0o600)).To(Succeed())
	cfg, err := Load(good)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cfg.Rules).To(HaveLen(1))

	bad := filepath.Join(dir, "bad.yaml")
	g.Expect(os.WriteFile(bad, []byte("rules:\n- syncTo: cluster\n"), 0o600)).To(Succeed())
	_, err = Load(bad)
	g.Expect(err).To(MatchError(bad + `: rules[0].syncTo: must be "git" or "kubernetes", not "cluster"`))
}
