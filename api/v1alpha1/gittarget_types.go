package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GitTargetSpec is a folder on a branch of a GitProvider's repository.
type GitTargetSpec struct {
	// ProviderRef names the GitProvider in the same namespace.
	// +required
	ProviderRef LocalObjectReference `json:"providerRef"`

	// Branch to write to. It must match one of the GitProvider's allowedBranches; it is created
	// from the remote's default branch when missing.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[A-Za-z0-9._/+@-]+$')`,message="branch may only contain letters, digits and . _ / + @ -"
	// +kubebuilder:validation:XValidation:rule=`!self.startsWith('/') && !self.endsWith('/') && !self.contains('//')`,message="branch must not start or end with / nor contain //"
	// +kubebuilder:validation:XValidation:rule=`!self.contains('..') && !self.contains('@{') && !self.endsWith('.lock') && !self.endsWith('.') && !self.startsWith('-') && !self.matches('(^|/)\\.')`,message="branch is not a valid Git branch name (see git check-ref-format)"
	// +required
	Branch string `json:"branch"`

	// Path of the folder inside the repository, relative to its root, such as `live-cluster` or
	// `clusters/prod`. Everything under it is managed by this GitTarget.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule=`!self.startsWith('/')`,message="path must be relative to the repository root, without a leading /"
	// +kubebuilder:validation:XValidation:rule=`!self.matches('(^|/)\\.\\.(/|$)')`,message="path must not contain '..'; it has to stay inside the repository"
	// +kubebuilder:validation:XValidation:rule=`!self.matches('(^|/)\\.git(/|$)')`,message="path must not point into .git"
	// +kubebuilder:validation:XValidation:rule=`!self.contains('\\') && !self.matches('[\\x00-\\x1f\\x7f]')`,message="path must use / as separator and contain no control characters"
	// +kubebuilder:validation:XValidation:rule=`self != '.' && self != './'`,message="path must name a folder below the repository root"
	// +required
	Path string `json:"path"`

	// Interval is how often the branch is fetched for the rules with syncTo: kubernetes, whose
	// manifests are then applied. A push webhook or the annotation
	// configbutler.ai/reconcile-requested-at fetches at once.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule=`self.matches('^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$')`,message="interval must be a duration such as 30s, 1m or 1h"
	// +kubebuilder:default="1m"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Encryption of sensitive resources (Secrets) before they are written. Without it, sensitive
	// resources are never written: their changes are held and the Ready condition says why.
	// +optional
	Encryption *EncryptionSpec `json:"encryption,omitempty"`

	// Suspend stops the target in both directions: nothing is committed, pushed or applied for it
	// while true. Changes made meanwhile are not lost: resuming catches up from the branch's
	// cursor, one commit per change where the API server still holds the history, else one
	// reconcile commit. Flux's spec.suspend is the model.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// CommitSubject, when set, wins over the GitProvider's. It is a Go text/template for the
	// subject of each change's commit, over .Operation, .Resource, .Group, .Version, .Namespace, .Name, .Object (namespace/name),
	// .User, .Target and .Cluster, with the functions lower and upper (docs/configuration.md has
	// examples). The default writes "[UPDATE] deployments.apps team-a/web". It is checked when
	// the object is admitted. The trailers below the subject are always written as they are: they
	// are the record tools read.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	CommitSubject string `json:"commitSubject,omitempty"`

	// KubeConfig makes the target capture from, and apply to, another cluster than the
	// operator's own: the one a kubeconfig in a Secret of the target's namespace describes, as
	// Flux's spec.kubeConfig does. The kubeconfig must carry its credentials inline: exec and
	// auth-provider plugins, files and insecure-skip-tls-verify are refused. Rules' service
	// accounts are impersonated in that cluster. Authors come from that cluster's audit webhook
	// (docs/configuration.md, "Remote clusters").
	// +optional
	KubeConfig *KubeConfigReference `json:"kubeConfig,omitempty"`
}

// KubeConfigReference names the Secret that holds a kubeconfig.
type KubeConfigReference struct {
	// SecretRef names the Secret and its key; without a key, `value` and then `value.yaml` are
	// read, as Flux does. The Secret's optional `audit-token` key is the bearer token that
	// cluster's audit webhook must send.
	// +required
	SecretRef SecretKeyReference `json:"secretRef"`
}

// EncryptionProvider is the tool whose file format encrypted manifests use.
// +kubebuilder:validation:Enum=sops
type EncryptionProvider string

// EncryptionProviderSOPS writes `<name>.sops.yaml` files that the sops CLI can decrypt.
const EncryptionProviderSOPS EncryptionProvider = "sops"

// EncryptionSpec configures how sensitive resources are encrypted.
// +kubebuilder:validation:XValidation:rule=`!has(self.age) || !self.age.enabled || (has(self.age.recipients) && ((has(self.age.recipients.publicKeys) && size(self.age.recipients.publicKeys) > 0) || self.age.recipients.extractFromSecret || self.age.recipients.generateWhenMissing))`,message="age encryption needs recipients: list age.recipients.publicKeys or set age.recipients.extractFromSecret"
// +kubebuilder:validation:XValidation:rule=`has(self.secretRef) || !has(self.age) || !has(self.age.recipients) || !(self.age.recipients.extractFromSecret || self.age.recipients.generateWhenMissing)`,message="secretRef is required when age.recipients.extractFromSecret or generateWhenMissing is true"
type EncryptionSpec struct {
	// Provider of the encrypted file format.
	// +kubebuilder:default=sops
	// +required
	Provider EncryptionProvider `json:"provider"`

	// Age configures age recipients.
	// +optional
	Age *AgeEncryption `json:"age,omitempty"`

	// SecretRef names the Secret holding age private keys as `*.agekey` entries. Their public
	// keys become recipients when age.recipients.extractFromSecret is true, and the Git → cluster
	// direction decrypts with them.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`
}

// AgeEncryption configures encryption to age recipients.
type AgeEncryption struct {
	// Enabled turns age encryption on.
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled"`

	// Recipients the files are encrypted to.
	// +kubebuilder:default={}
	// +optional
	Recipients AgeRecipients `json:"recipients,omitempty"`
}

// AgeRecipients lists where age recipients come from; all sources are combined.
type AgeRecipients struct {
	// PublicKeys are age X25519 recipients (`age1...`).
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:XValidation:rule=`self.matches('^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$')`,message="each public key must be an age X25519 recipient: age1 followed by 58 lowercase bech32 characters"
	// +listType=set
	// +optional
	PublicKeys []string `json:"publicKeys,omitempty"`

	// ExtractFromSecret adds the public key of every `*.agekey` entry of encryption.secretRef.
	// +kubebuilder:default=false
	// +optional
	ExtractFromSecret bool `json:"extractFromSecret"`

	// GenerateWhenMissing creates a `<date>.agekey` entry in encryption.secretRef (and the Secret
	// itself) when it holds none. The Secret is annotated with the public key and with
	// `configbutler.ai/backup-warning: REMOVE_AFTER_BACKUP` until a person removes it.
	// +kubebuilder:default=false
	// +optional
	GenerateWhenMissing bool `json:"generateWhenMissing"`
}

// GitTargetStatus is what the controller observed of the folder.
type GitTargetStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (reason Synced, ProviderNotFound, ProviderNotReady, BranchNotAllowed,
	// PathConflict, EncryptionNotReady, KubeConfigNotFound, KubeConfigInvalid,
	// ClusterUnreachable, ClusterAuthenticationFailed), Applied (Git → cluster: Applied, ApplyFailed,
	// InvalidManifest, DecryptionFailed, Forbidden, OutsideScope), EncryptionKeyBackedUp,
	// Reconciling and Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastCommit is the hash of the last commit written for this target.
	// +optional
	LastCommit string `json:"lastCommit,omitempty"`

	// LastPushTime is when a commit for this target last reached the remote.
	// +optional
	LastPushTime *metav1.Time `json:"lastPushTime,omitempty"`

	// LastAppliedRevision is the commit of the branch whose manifests were last applied to the
	// cluster by the rules with syncTo: kubernetes.
	// +optional
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`

	// LastHandledReconcileAt is the value of the configbutler.ai/reconcile-requested-at
	// annotation that was last acted on.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// Inventory lists the objects this target applied to the cluster: only these are ever
	// pruned, and it survives restarts.
	// +optional
	Inventory *ResourceInventory `json:"inventory,omitempty"`
}

// ResourceInventory is the set of objects a GitTarget applied, in Flux's inventory shape.
type ResourceInventory struct {
	// Entries of the objects, sorted by ID.
	// +listType=atomic
	// +optional
	Entries []ResourceRef `json:"entries,omitempty"`
}

// ResourceRef names one applied object.
type ResourceRef struct {
	// ID is `<namespace>_<name>_<group>_<kind>`, empty namespace for cluster-scoped objects.
	// +required
	ID string `json:"id"`
	// Version is the API version the object was applied in.
	// +required
	Version string `json:"v"`
}

// GitTarget is a folder on a branch of a GitProvider's repository, where the resources selected by
// WatchRules and ClusterWatchRules are written.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gt,categories=gitops-reverser
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.providerRef.name`
// +kubebuilder:printcolumn:name="Branch",type=string,JSONPath=`.spec.branch`
// +kubebuilder:printcolumn:name="Path",type=string,JSONPath=`.spec.path`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Cluster",type=string,priority=1,JSONPath=`.spec.kubeConfig.secretRef.name`
// +kubebuilder:printcolumn:name="Last Commit",type=string,priority=1,JSONPath=`.status.lastCommit`
// +kubebuilder:printcolumn:name="Applied",type=string,priority=1,JSONPath=`.status.lastAppliedRevision`
// +kubebuilder:printcolumn:name="Last Push",type=date,priority=1,JSONPath=`.status.lastPushTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GitTarget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec GitTargetSpec `json:"spec"`
	// +optional
	Status GitTargetStatus `json:"status,omitempty"`
}

// GitTargetList is a list of GitTargets.
// +kubebuilder:object:root=true
type GitTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitTarget `json:"items"`
}

func init() {
	SchemeBuilder.Register(&GitTarget{}, &GitTargetList{})
}
