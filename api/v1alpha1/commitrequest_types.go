package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CommitRequestSpec asks for everything pending on a GitTarget to be committed and pushed at once.
// +kubebuilder:validation:XValidation:rule=`self == oldSelf`,message="a CommitRequest is a one-time request: create another one"
type CommitRequestSpec struct {
	// TargetRef names the GitTarget in the same namespace.
	// +required
	TargetRef LocalObjectReference `json:"targetRef"`

	// Message is the subject of the request's own commit, when it makes one: what the folder
	// lacks of the cluster's state once every pending change is committed (a file a person
	// removed or edited in Git, say). That commit's author is the requester. Default:
	// "[SAVE] <target>: N written, M removed".
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// CommitRequestStatus reports what the request did.
type CommitRequestStatus struct {
	// Conditions: Ready True with reason Saved once everything pending when the request was
	// handled is on the remote; False with the reason it could not be.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation the status is for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Commit is the branch's tip on the remote after the push: it holds every change that was
	// pending when the request was handled.
	// +optional
	Commit string `json:"commit,omitempty"`

	// RequestCommit is the request's own commit, when it made one.
	// +optional
	RequestCommit string `json:"requestCommit,omitempty"`

	// Requester is the Kubernetes user who created the request, as the attribution webhook saw
	// them; empty when unknown.
	// +optional
	Requester string `json:"requester,omitempty"`

	// CompletedAt is when the request was done; a request is handled once.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=gitops-reverser
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.targetRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Commit",type=string,JSONPath=`.status.commit`
// +kubebuilder:printcolumn:name="Requester",type=string,priority=1,JSONPath=`.status.requester`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CommitRequest asks a GitTarget to commit and push everything pending on it now, as the anchor
// project's CommitRequest does, and reports the resulting commit.
type CommitRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec CommitRequestSpec `json:"spec"`
	// +optional
	Status CommitRequestStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CommitRequestList is a list of CommitRequests.
type CommitRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CommitRequest `json:"items"`
}

func init() {
	SchemeBuilder.Register(&CommitRequest{}, &CommitRequestList{})
}
