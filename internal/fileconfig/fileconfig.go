package fileconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// Kind is one entry of the file's kinds list.
type Kind struct {
	// Kind is the object kind, such as Deployment.
	Kind string
	// Group is the API group; "" is the core group.
	Group string
	// APIVersion is the version alone, such as v1beta1. The file may say group/version; the
	// group is dropped here so that callers never have to tell the two forms apart.
	APIVersion string
}

// Config is the translated file.
type Config struct {
	Kinds []Kind
	Rules []configv1alpha1.ResourceRule
}

// The limits and patterns of ResourceRule's CRD schema, checked here so that a translated rule
// is never refused by the API server after the file was accepted.
const (
	maxGroups, maxVersions, maxResources, maxFilters = 64, 32, 128, 64
	maxResourceLen, maxFilterLen                     = 253, 1024
)

var (
	resourcePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	pointerPattern  = regexp.MustCompile(`^(/([^~/]|~[01])*)+$`)
	// A kind lowercased must be a DNS-1035 label, as the API server demands of CRD kinds.
	kindPattern = regexp.MustCompile(`^[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?$`)
)

// Load reads and parses the file at path. Its errors start with the path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// The path error would repeat the path after ours; keep only its cause.
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse translates a file's contents. It reports the first problem it finds, as one line that
// names the field.
func Parse(data []byte) (*Config, error) {
	// Strict conversion refuses duplicate keys, which would otherwise silently override.
	doc, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", oneLine{err})
	}
	var kinds, rules []json.RawMessage
	if err := decodeObject("", doc, map[string]any{"kinds": &kinds, "rules": &rules}); err != nil {
		return nil, err
	}

	cfg := &Config{}
	for i, raw := range kinds {
		k, err := parseKind(fmt.Sprintf("kinds[%d]", i), raw)
		if err != nil {
			return nil, err
		}
		// KindFor could answer only one of two entries for the same kind.
		if j := slices.IndexFunc(cfg.Kinds, func(o Kind) bool { return o.Group == k.Group && o.Kind == k.Kind }); j >= 0 {
			return nil, fmt.Errorf("kinds[%d]: %s is already listed as kinds[%d]", i, schema.GroupKind{Group: k.Group, Kind: k.Kind}, j)
		}
		cfg.Kinds = append(cfg.Kinds, k)
	}

	if len(rules) == 0 {
		return nil, errors.New("rules: at least one rule is required")
	}
	for i, raw := range rules {
		path := fmt.Sprintf("rules[%d]", i)
		rule, err := parseRule(path, raw)
		if err != nil {
			return nil, err
		}
		rule.APIVersions = cfg.versionsFor(rule.APIGroups)
		if len(rule.APIVersions) > maxVersions {
			return nil, fmt.Errorf("%s: the kinds of its groups name %d versions, more than the %d a rule can hold", path, len(rule.APIVersions), maxVersions)
		}
		cfg.Rules = append(cfg.Rules, rule)
	}
	return cfg, nil
}

// KindFor returns the entry of the kinds list for a group and kind.
func (c *Config) KindFor(group, kind string) (Kind, bool) {
	for _, k := range c.Kinds {
		if k.Group == group && k.Kind == kind {
			return k, true
		}
	}
	return Kind{}, false
}

// versionsFor gives a rule the versions the kinds list names for its groups, because
// git-controller took a resource's version from there and our rules carry it themselves. Nil,
// when no kind matches, leaves the choice to the API server's preferred version.
func (c *Config) versionsFor(groups []string) []string {
	all := len(groups) == 0 || slices.Contains(groups, "*")
	var versions []string
	for _, k := range c.Kinds {
		if all || slices.Contains(groups, k.Group) {
			versions = append(versions, k.APIVersion)
		}
	}
	slices.Sort(versions)
	return slices.Compact(versions)
}

func parseKind(path string, raw json.RawMessage) (Kind, error) {
	var k Kind
	if err := decodeItem(path, raw, map[string]any{"kind": &k.Kind, "group": &k.Group, "apiVersion": &k.APIVersion}); err != nil {
		return Kind{}, err
	}
	switch {
	case k.Kind == "":
		return Kind{}, fmt.Errorf("%s.kind: required", path)
	case len(k.Kind) > validation.DNS1035LabelMaxLength || !kindPattern.MatchString(k.Kind):
		return Kind{}, fmt.Errorf("%s.kind: %q is not a kind such as Deployment (letters, digits and -, starting with a letter)", path, k.Kind)
	case k.Group != "" && len(validation.IsDNS1123Subdomain(k.Group)) > 0:
		return Kind{}, fmt.Errorf("%s.group: %q is not an API group such as apps or snapshot.storage.k8s.io", path, k.Group)
	case k.APIVersion == "":
		return Kind{}, fmt.Errorf("%s.apiVersion: required", path)
	}
	version := k.APIVersion
	if group, v, ok := strings.Cut(k.APIVersion, "/"); ok {
		switch {
		case group == "":
			return Kind{}, fmt.Errorf("%s.apiVersion: %q has an empty group; write the version alone", path, k.APIVersion)
		case group != k.Group:
			return Kind{}, fmt.Errorf("%s.apiVersion: %q is in group %q, but the kind's group is %q", path, k.APIVersion, group, k.Group)
		}
		version = v
	}
	if len(validation.IsDNS1035Label(version)) > 0 {
		return Kind{}, fmt.Errorf("%s.apiVersion: %q is not a version such as v1 or v1beta1", path, k.APIVersion)
	}
	k.APIVersion = version
	return k, nil
}

func parseRule(path string, raw json.RawMessage) (configv1alpha1.ResourceRule, error) {
	var groups, resources, filters []string
	var labels, syncTo string
	if err := decodeItem(path, raw, map[string]any{
		"apiGroups": &groups, "resources": &resources, "labels": &labels, "filters": &filters, "syncTo": &syncTo,
	}); err != nil {
		return configv1alpha1.ResourceRule{}, err
	}
	rule := configv1alpha1.ResourceRule{APIGroups: groups, Resources: resources, Filters: filters}
	if err := checkList(path+".apiGroups", groups, maxGroups, checkGroup); err != nil {
		return rule, err
	}
	if err := checkList(path+".resources", resources, maxResources, checkResource); err != nil {
		return rule, err
	}
	if err := checkList(path+".filters", filters, maxFilters, checkFilter); err != nil {
		return rule, err
	}
	// git-controller's empty list means any resource; ours must say so with *.
	if len(rule.Resources) == 0 {
		rule.Resources = []string{"*"}
	}
	selector, err := parseSelector(path+".labels", labels)
	if err != nil {
		return rule, err
	}
	rule.Labels = selector
	switch syncTo {
	case "", string(configv1alpha1.SyncToGit):
		rule.SyncTo = configv1alpha1.SyncToGit
	case string(configv1alpha1.SyncToKubernetes):
		rule.SyncTo = configv1alpha1.SyncToKubernetes
	default:
		return rule, fmt.Errorf("%s.syncTo: must be %q or %q, not %q", path, configv1alpha1.SyncToGit, configv1alpha1.SyncToKubernetes, syncTo)
	}
	return rule, nil
}

// checkList applies check to every entry and refuses repeats, which the CRD's list-type set
// would refuse too.
func checkList(path string, items []string, limit int, check func(string) string) error {
	if len(items) > limit {
		return fmt.Errorf("%s: has %d entries, more than %d", path, len(items), limit)
	}
	for i, s := range items {
		if problem := check(s); problem != "" {
			return fmt.Errorf("%s[%d]: %s", path, i, problem)
		}
		if j := slices.Index(items[:i], s); j >= 0 {
			return fmt.Errorf("%s[%d]: %q repeats %s[%d]", path, i, s, path, j)
		}
	}
	return nil
}

func checkGroup(s string) string {
	if s == "" || s == "*" || len(validation.IsDNS1123Subdomain(s)) == 0 {
		return ""
	}
	return fmt.Sprintf(`%q is not an API group ("" for the core group, a name such as apps, or *)`, s)
}

func checkResource(s string) string {
	if s == "*" || (len(s) <= maxResourceLen && resourcePattern.MatchString(s)) {
		return ""
	}
	return fmt.Sprintf("%q is not a resource (a lowercase plural name such as deployments, or *)", s)
}

func checkFilter(s string) string {
	switch {
	case !strings.HasPrefix(s, "/"):
		return fmt.Sprintf("%q is not a JSON pointer (it must start with /)", s)
	case !pointerPattern.MatchString(s):
		return fmt.Sprintf("%q is not a JSON pointer (escape ~ as ~0 and / as ~1)", s)
	case len(s) > maxFilterLen:
		return fmt.Sprintf("is longer than %d characters", maxFilterLen)
	}
	return ""
}
