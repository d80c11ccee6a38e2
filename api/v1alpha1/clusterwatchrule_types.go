package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ResourceScope restricts a ClusterWatchRule rule to cluster-scoped or namespaced resources.
// +kubebuilder:validation:Enum=Cluster;Namespaced
type ResourceScope string

const (
	// ScopeCluster matches cluster-scoped resources only.
	ScopeCluster ResourceScope = "Cluster"
	// ScopeNamespaced matches namespaced resources only.
	ScopeNamespaced ResourceScope = "Namespaced"
)

// ClusterResourceRule is a ResourceRule that can also select cluster-scoped resources and the
// namespaces whose resources it matches.
// +kubebuilder:validation:XValidation:rule=`!(has(self.scope) && self.scope == 'Cluster' && has(self.namespaceSelector))`,message="namespaceSelector applies to namespaced resources only; remove it or set scope: Namespaced"
type ClusterResourceRule struct {
	ResourceRule `json:",inline"`

	// Scope restricts the rule to Cluster-scoped or Namespaced resources. Empty matches both,
	// as the API server serves each resource.
	// +optional
	Scope ResourceScope `json:"scope,omitempty"`

	// NamespaceSelector selects the namespaces whose resources the rule matches, by the
	// namespaces' labels. Empty selects every namespace.
	// +optional
	NamespaceSelector *LabelSelector `json:"namespaceSelector,omitempty"`
}

// ClusterWatchRuleSpec selects cluster-scoped resources and resources in several namespaces.
type ClusterWatchRuleSpec struct {
	// TargetRef names the GitTarget, with its namespace.
	// +required
	TargetRef NamespacedObjectReference `json:"targetRef"`

	// ServiceAccountName makes the operator apply this rule's objects (syncTo: kubernetes) as
	// that ServiceAccount of the GitTarget's namespace, so they get exactly its permissions. Empty applies as
	// the operator, unless the operator runs with --default-service-account.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// Rules select resources; for each object the first rule that selects it decides its direction.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="size(self) > 0",message="rules must list at least one rule"
	// +listType=atomic
	// +required
	Rules []ClusterResourceRule `json:"rules"`
}

// ClusterWatchRule selects cluster-scoped resources and resources across namespaces and writes
// them to a GitTarget.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cwr,categories=gitops-reverser
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.targetRef.name`
// +kubebuilder:printcolumn:name="Target Namespace",type=string,JSONPath=`.spec.targetRef.namespace`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterWatchRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec ClusterWatchRuleSpec `json:"spec"`
	// +optional
	Status WatchRuleStatus `json:"status,omitempty"`
}

// ClusterWatchRuleList is a list of ClusterWatchRules.
// +kubebuilder:object:root=true
type ClusterWatchRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterWatchRule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterWatchRule{}, &ClusterWatchRuleList{})
}
