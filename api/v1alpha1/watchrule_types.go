package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WatchRuleSpec selects resources in the WatchRule's own namespace and the GitTarget they go to.
type WatchRuleSpec struct {
	// TargetRef names the GitTarget in the same namespace.
	// +required
	TargetRef LocalObjectReference `json:"targetRef"`

	// ServiceAccountName makes the operator apply this rule's objects (syncTo: kubernetes) as
	// that ServiceAccount of the WatchRule's namespace, so they get exactly its permissions. Empty applies as
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
	Rules []ResourceRule `json:"rules"`
}

// WatchRuleStatus is what the controller resolved the rules to.
type WatchRuleStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (reason ResourcesResolved, TargetNotFound, TargetNotReady,
	// ResourceNotFound), Reconciling and Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Resources the rules resolved to.
	// +listType=atomic
	// +optional
	Resources []ResolvedResource `json:"resources,omitempty"`
}

// WatchRule selects resources of its own namespace and writes them to a GitTarget.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wr,categories=gitops-reverser
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.targetRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WatchRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec WatchRuleSpec `json:"spec"`
	// +optional
	Status WatchRuleStatus `json:"status,omitempty"`
}

// WatchRuleList is a list of WatchRules.
// +kubebuilder:object:root=true
type WatchRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WatchRule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&WatchRule{}, &WatchRuleList{})
}
