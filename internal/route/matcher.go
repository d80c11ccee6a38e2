package route

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/fields"
)

// Scope is where a rule's namespaced objects may live.
type Scope struct {
	// Namespace restricts to one namespace (a WatchRule's own); empty allows any.
	Namespace string
	// NamespaceSelector restricts to namespaces with matching labels (a ClusterWatchRule
	// rule's); nil allows any.
	NamespaceSelector *configv1alpha1.LabelSelector
}

// Matcher is one compiled rule.
type Matcher struct {
	operations map[configv1alpha1.OperationType]bool // empty: every operation
	objects    labels.Selector
	namespace  string
	namespaces labels.Selector // nil: every namespace
	// named are the resources the rule names explicitly: their controlled objects are kept,
	// since naming ReplicaSets is asking for them.
	named map[string]bool

	// SyncTo is the rule's direction: git (captured) or kubernetes (applied).
	SyncTo configv1alpha1.SyncDirection
	// Filters are the fields the rule claims; empty claims the whole object.
	Filters []string
	// Pointers are Filters compiled.
	Pointers []fields.Pointer
	// ExcludedUsers and ExcludedManagers change objects without it being captured.
	ExcludedUsers, ExcludedManagers []string
	// Origin names the rule for people: `WatchRule default/apps rules[1]`.
	Origin string
	// Account is the ServiceAccount (`namespace/name`) the rule's objects are applied as;
	// empty applies as the operator.
	Account  string
	wildcard bool
}

// Compile turns a rule and its scope into a Matcher.
func Compile(rule configv1alpha1.ResourceRule, scope Scope) (*Matcher, error) {
	m := &Matcher{operations: map[configv1alpha1.OperationType]bool{}, namespace: scope.Namespace, named: map[string]bool{},
		SyncTo: rule.SyncTo, Filters: slices.Clone(rule.Filters)}
	if m.SyncTo == "" {
		m.SyncTo = configv1alpha1.SyncToGit
	}
	if w := rule.ExcludedWriters; w != nil {
		m.ExcludedUsers, m.ExcludedManagers = slices.Clone(w.Users), slices.Clone(w.FieldManagers)
	}
	for _, f := range rule.Filters {
		p, err := fields.ParsePointer(f)
		if err != nil {
			return nil, err
		}
		m.Pointers = append(m.Pointers, p)
	}
	for _, op := range rule.Operations {
		if op == configv1alpha1.OperationAll {
			m.operations = map[configv1alpha1.OperationType]bool{}
			break
		}
		m.operations[op] = true
	}
	var err error
	if m.objects, err = selector(rule.Labels); err != nil {
		return nil, fmt.Errorf("compiling labels: %w", err)
	}
	if scope.NamespaceSelector != nil {
		if m.namespaces, err = selector(scope.NamespaceSelector); err != nil {
			return nil, fmt.Errorf("compiling namespaceSelector: %w", err)
		}
	}
	for _, r := range rule.Resources {
		if r != "*" {
			m.named[r] = true
		} else {
			m.wildcard = true
		}
	}
	return m, nil
}

func selector(s *configv1alpha1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	ls := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
	for _, e := range s.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: e.Key, Operator: metav1.LabelSelectorOperator(e.Operator), Values: e.Values,
		})
	}
	return metav1.LabelSelectorAsSelector(ls)
}

// Change is an observed change to one object.
type Change struct {
	Operation configv1alpha1.OperationType
	Resource  string // plural resource name, as in rules
	Object    *unstructured.Unstructured
	// NamespaceLabels are the labels of the object's namespace (nil for cluster-scoped objects).
	NamespaceLabels map[string]string
}

// Matches reports whether the change belongs to the rule.
func (m *Matcher) Matches(c Change) bool {
	return m.Allows(c.Operation) && m.Selects(c.Resource, c.Object, c.NamespaceLabels)
}

// Allows reports whether the rule counts changes of kind op.
func (m *Matcher) Allows(op configv1alpha1.OperationType) bool {
	return len(m.operations) == 0 || m.operations[op]
}

// Selects reports whether obj, of the plural resource, is one of the rule's objects, whatever
// happened to it. nsLabels are the labels of its namespace.
func (m *Matcher) Selects(resource string, obj *unstructured.Unstructured, nsLabels map[string]string) bool {
	ns := obj.GetNamespace()
	if m.namespace != "" && ns != m.namespace {
		return false
	}
	if m.namespaces != nil && ns != "" && !m.namespaces.Matches(labels.Set(nsLabels)) {
		return false
	}
	if !m.objects.Matches(labels.Set(obj.GetLabels())) {
		return false
	}
	return !controlled(obj) || m.named[resource]
}

// Namespace is the one namespace the rule is confined to (a WatchRule's), or "".
func (m *Matcher) Namespace() string { return m.namespace }

// Names reports whether the rule asks for the plural resource, by name or with `*`.
func (m *Matcher) Names(resource string) bool { return m.wildcard || m.named[resource] }

// MaySelectIn reports whether the rule can select objects of namespace ns (whose labels are
// nsLabels), whatever their own labels; "" is the scope of cluster-scoped objects.
func (m *Matcher) MaySelectIn(ns string, nsLabels map[string]string) bool {
	if m.namespace != "" && ns != m.namespace {
		return false
	}
	return m.namespaces == nil || ns == "" || m.namespaces.Matches(labels.Set(nsLabels))
}

// Captures reports whether the rule writes whole objects to Git: syncTo git without filters.
// Rules with filters claim single fields, which the field-level direction handles.
func (m *Matcher) Captures() bool {
	return m.SyncTo == configv1alpha1.SyncToGit && len(m.Filters) == 0
}

// Applies reports whether the rule applies whole objects from Git: syncTo kubernetes without
// filters.
func (m *Matcher) Applies() bool {
	return m.SyncTo == configv1alpha1.SyncToKubernetes && len(m.Filters) == 0
}

// First returns the first of the ordered rules that selects obj, or nil: git-controller's rule,
// that the first match decides an object's direction. Rules come in the order docs/configuration.md
// gives (a WatchRule's rules as listed, WatchRules by name, then ClusterWatchRules by name).
func First(rules []*Matcher, resource string, obj *unstructured.Unstructured, nsLabels map[string]string) *Matcher {
	for _, r := range rules {
		if r.Selects(resource, obj, nsLabels) {
			return r
		}
	}
	return nil
}

// NeedsNamespaceLabels reports whether Selects looks at the labels of namespaces.
func (m *Matcher) NeedsNamespaceLabels() bool { return m.namespaces != nil }

// controlled reports whether a controller owns obj (a Deployment's ReplicaSets, their Pods):
// derived state, which Git does not need unless asked.
func controlled(obj *unstructured.Unstructured) bool {
	return slices.ContainsFunc(obj.GetOwnerReferences(), func(r metav1.OwnerReference) bool {
		return r.Controller != nil && *r.Controller
	})
}

// Ownership splits an object's fields between the directions by the rules that select it, in
// order.
func Ownership(rules []*Matcher, resource string, obj *unstructured.Unstructured, nsLabels map[string]string) fields.Ownership {
	var selecting []fields.Rule
	for _, r := range rules {
		if r.Selects(resource, obj, nsLabels) {
			selecting = append(selecting, fields.Rule{Direction: fields.Direction(r.SyncTo), Filters: r.Pointers, Origin: r.Origin})
		}
	}
	return fields.Own(selecting)
}

// AppliesFields reports whether the rule applies anything from Git: whole objects, or the fields
// its filters claim.
func (m *Matcher) AppliesFields() bool { return m.SyncTo == configv1alpha1.SyncToKubernetes }

// ApplyingRule is the rule that applies an object's fields from Git (the first selecting
// syncTo: kubernetes rule), or nil when no field of it goes that way; whole reports that the
// object itself is the apply side's: created, and pruned, by it.
func ApplyingRule(rules []*Matcher, resource string, obj *unstructured.Unstructured, nsLabels map[string]string) (m *Matcher, own fields.Ownership, whole bool) {
	own = Ownership(rules, resource, obj, nsLabels)
	if !own.Has(fields.ToKubernetes) {
		return nil, own, false
	}
	for _, r := range rules {
		if r.AppliesFields() && r.Selects(resource, obj, nsLabels) {
			return r, own, own.Rest == fields.ToKubernetes
		}
	}
	return nil, own, false
}
