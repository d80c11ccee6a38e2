package v1alpha1

// OperationType is a kind of change to a resource, as Kubernetes admission names them.
// +kubebuilder:validation:Enum=CREATE;UPDATE;DELETE;*
type OperationType string

const (
	OperationCreate OperationType = "CREATE"
	OperationUpdate OperationType = "UPDATE"
	OperationDelete OperationType = "DELETE"
	OperationAll    OperationType = "*"
)

// SyncDirection says which side is the source of truth for the fields a rule selects.
// +kubebuilder:validation:Enum=git;kubernetes
type SyncDirection string

const (
	// SyncToGit writes the cluster's state to Git (the default).
	SyncToGit SyncDirection = "git"
	// SyncToKubernetes applies Git's state to the cluster.
	SyncToKubernetes SyncDirection = "kubernetes"
)

// ResourceRule selects resources, the changes to them that count, and the direction they sync in.
// Empty apiGroups and apiVersions match every group and version; `*` matches everything too.
type ResourceRule struct {
	// Operations that produce commits. Empty means all of them.
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	// +optional
	Operations []OperationType `json:"operations,omitempty"`

	// APIGroups of the resources; "" is the core group. Empty means every group.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	APIGroups []string `json:"apiGroups,omitempty"`

	// APIVersions of the resources, such as v1. Empty means the version the API server prefers.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	APIVersions []string `json:"apiVersions,omitempty"`

	// Resources by their plural name as `kubectl api-resources` prints it (configmaps,
	// deployments), or `*` for every resource of the selected groups.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:XValidation:rule=`self == '*' || self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')`,message="each resource must be a lowercase plural name such as configmaps, or *"
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +required
	Resources []string `json:"resources"`

	// Labels selects objects by their labels. Empty selects every object.
	// +optional
	Labels *LabelSelector `json:"labels,omitempty"`

	// Filters restrict the rule to fields, as JSON pointers such as `/metadata/annotations` or
	// `/spec/template/spec/containers/*/image` (`*` matches every list element). For
	// syncTo: git only changes under these paths make commits; for syncTo: kubernetes only these
	// fields are applied from Git.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:XValidation:rule=`self.matches('^(/([^~/]|~[01])*)+$')`,message="each filter must be a JSON pointer such as /metadata/annotations (escape ~ as ~0 and / as ~1)"
	// +listType=set
	// +optional
	Filters []string `json:"filters,omitempty"`

	// ExcludedWriters change the selected objects without it becoming a commit (syncTo: git),
	// such as a GitOps tool that applies the same objects from its own repository.
	// +optional
	ExcludedWriters *ExcludedWriters `json:"excludedWriters,omitempty"`

	// SyncTo is the direction: `git` writes the cluster's state to Git, `kubernetes` applies
	// Git's state to the cluster.
	// +kubebuilder:default=git
	// +optional
	SyncTo SyncDirection `json:"syncTo,omitempty"`
}

// ExcludedWriters name who may change objects without it being captured.
type ExcludedWriters struct {
	// Users as the API server names them, such as
	// system:serviceaccount:flux-system:kustomize-controller: a change they make is not
	// committed (this needs attribution, --attribution other than none).
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Users []string `json:"users,omitempty"`

	// FieldManagers, as managedFields name them (kustomize-controller, argocd-controller): the
	// fields they own are never written to Git, by a change or by a reconcile; the file keeps
	// what Git has for them.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=128
	// +listType=set
	// +optional
	FieldManagers []string `json:"fieldManagers,omitempty"`
}

// LabelSelector is a Kubernetes label selector. It is its own type, not metav1.LabelSelector, so
// that the CRD schema can bound its size for CEL cost estimation.
type LabelSelector struct {
	// MatchLabels selects objects whose labels hold every one of these pairs.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`

	// MatchExpressions selects objects whose labels satisfy every expression.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is a key, an operator and values, as in metav1.LabelSelectorRequirement.
// +kubebuilder:validation:XValidation:rule=`(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)`,message="values must be set for In and NotIn, and empty for Exists and DoesNotExist"
type LabelSelectorRequirement struct {
	// Key is the label key.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	// +required
	Key string `json:"key"`

	// Operator is In, NotIn, Exists or DoesNotExist.
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
	// +required
	Operator string `json:"operator"`

	// Values for In and NotIn.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=atomic
	// +optional
	Values []string `json:"values,omitempty"`
}

// ResolvedResource is one resource a rule resolved to through discovery.
type ResolvedResource struct {
	// Group of the resource; empty for the core group.
	// +optional
	Group string `json:"group,omitempty"`
	// Version served and watched.
	Version string `json:"version"`
	// Resource is the plural name.
	Resource string `json:"resource"`
	// Kind of the objects.
	Kind string `json:"kind"`
	// Namespaced is true for namespaced resources.
	Namespaced bool `json:"namespaced"`
	// SyncTo is the direction the resource syncs in.
	SyncTo SyncDirection `json:"syncTo"`
}
