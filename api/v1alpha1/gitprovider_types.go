package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GitProviderSpec says where a repository is, how to reach it and how often to push to it.
type GitProviderSpec struct {
	// URL of the repository: `git@host:owner/repo.git` or `ssh://git@host[:port]/path` for SSH,
	// `https://host/path` for HTTPS, or `file:///path` for a repository on the operator's disk.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule=`self.matches('^(ssh|https?|file)://.+$') || self.matches('^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:[^/].*$')`,message="url must be a Git URL: git@host:owner/repo.git, ssh://git@host/path, https://host/path or file:///path"
	// +kubebuilder:validation:XValidation:rule=`!self.matches('^https?://[^/]*@')`,message="url must not carry credentials; put them in the Secret named by secretRef"
	// +required
	URL string `json:"url"`

	// AllowedBranches lists the branches GitTargets may write to, as glob patterns
	// (`*`, `main`, `env/*`). A GitTarget whose branch matches none of them is not Ready.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	// +listType=set
	// +required
	AllowedBranches []string `json:"allowedBranches"`

	// SecretRef names the Secret with the credentials. For SSH: the private key under
	// `ssh-privatekey` (Kubernetes), `identity` (Flux) or `sshPrivateKey` (Argo CD), an optional
	// `passphrase`, and `known_hosts`. For HTTPS: `username` and `password`, or `bearerToken`,
	// and an optional `ca.crt`. Not needed for file:// URLs or anonymous HTTPS.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`

	// KnownHosts says where the SSH known_hosts lines come from when they are not under the
	// `known_hosts` key of secretRef. SSH connections fail closed without them.
	// +optional
	KnownHosts *KnownHostsSource `json:"knownHosts,omitempty"`

	// Push says when commits are pushed.
	// +kubebuilder:default={}
	// +optional
	Push PushPolicy `json:"push,omitempty"`

	// Committer is the identity written as the committer of every commit (the author is the
	// Kubernetes user who made the change). Defaults to "gitops-reverser".
	// +optional
	Committer *GitIdentity `json:"committer,omitempty"`

	// Signing signs every commit with the key in the named Secret.
	// +optional
	Signing *CommitSigning `json:"signing,omitempty"`

	// CommitSubject is, for the GitTargets of this provider that set none, a Go text/template for
	// the subject of each change's commit, over .Operation, .Resource, .Group, .Version, .Namespace, .Name, .Object (namespace/name),
	// .User, .Target and .Cluster, with the functions lower and upper (docs/configuration.md has
	// examples). The default writes "[UPDATE] deployments.apps team-a/web". It is checked when
	// the object is admitted. The trailers below the subject are always written as they are: they
	// are the record tools read.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	CommitSubject string `json:"commitSubject,omitempty"`

	// Webhook lets the Git server announce pushes, so that the GitTargets of this repository
	// fetch and apply at once instead of at their next interval. Point the server's push webhook
	// at https://<operator webhook service>/hooks/git/<namespace>/<name>.
	// +optional
	Webhook *PushWebhook `json:"webhook,omitempty"`
}

// PushPolicy batches commits into pushes: a push happens when MaxCommits commits are pending or
// Interval after the oldest pending commit, whichever comes first.
type PushPolicy struct {
	// Interval after the oldest unpushed commit at which a push starts, as a duration such as
	// `5s` or `1m`. `0s` pushes every commit at once.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule=`self.matches('^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$')`,message="interval must be a duration such as 0s, 500ms, 5s or 1m"
	// +kubebuilder:default="5s"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// MaxCommits is the number of pending commits that triggers a push before Interval elapsed.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	// +kubebuilder:default=20
	// +optional
	MaxCommits *int32 `json:"maxCommits,omitempty"`
}

// KnownHostsSource names exactly one place holding SSH known_hosts lines.
// +kubebuilder:validation:XValidation:rule="has(self.secretRef) != has(self.configMapRef)",message="knownHosts needs exactly one of secretRef or configMapRef"
type KnownHostsSource struct {
	// SecretRef names a Secret key holding known_hosts lines (default key `known_hosts`).
	// +optional
	SecretRef *SecretKeyReference `json:"secretRef,omitempty"`

	// ConfigMapRef names a ConfigMap key holding known_hosts lines (default key `known_hosts`).
	// +optional
	ConfigMapRef *ConfigMapKeyReference `json:"configMapRef,omitempty"`
}

// GitIdentity is a name and email as written in commits.
type GitIdentity struct {
	// Name as written in the commit.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('[<>\\n]')",message="name must not contain <, > or newlines"
	// +required
	Name string `json:"name"`

	// Email as written in the commit.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^[^<>\\\\s@]+@[^<>\\\\s@]+$')",message="email must look like name@example.com"
	// +required
	Email string `json:"email"`
}

// SigningFormat is how commits are signed.
// +kubebuilder:validation:Enum=ssh;openpgp
type SigningFormat string

const (
	// SigningFormatSSH signs with an SSH key (git's gpg.format=ssh).
	SigningFormatSSH SigningFormat = "ssh"
	// SigningFormatOpenPGP signs with an OpenPGP key (git's default gpg.format).
	SigningFormatOpenPGP SigningFormat = "openpgp"
)

// CommitSigning names the key that signs every commit.
type CommitSigning struct {
	// SecretRef names a Secret holding the private key under `signing.key` (an OpenSSH private
	// key or an armored OpenPGP private key) and an optional `passphrase`.
	// +required
	SecretRef LocalObjectReference `json:"secretRef"`

	// Format of the key. When empty it is detected from the key itself.
	// +optional
	Format SigningFormat `json:"format,omitempty"`
}

// GitProviderStatus is what the controller observed of the repository.
type GitProviderStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (reason Connected, AuthenticationFailed, HostKeyMismatch, Unreachable,
	// SecretNotFound, InvalidCredentials), Reconciling and Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastCheckedTime is when the controller last connected to the remote.
	// +optional
	LastCheckedTime *metav1.Time `json:"lastCheckedTime,omitempty"`
}

// GitProvider is a Git repository the operator writes to: its URL, credentials, allowed branches
// and push policy. GitTargets in the same namespace refer to it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gp,categories=gitops-reverser
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GitProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec GitProviderSpec `json:"spec"`
	// +optional
	Status GitProviderStatus `json:"status,omitempty"`
}

// GitProviderList is a list of GitProviders.
// +kubebuilder:object:root=true
type GitProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitProvider `json:"items"`
}

func init() {
	SchemeBuilder.Register(&GitProvider{}, &GitProviderList{})
}

// PushWebhook authenticates the Git server's push webhooks with a shared token.
type PushWebhook struct {
	// SecretRef names the Secret key holding the token (default key `token`): the secret of a
	// GitHub or Gitea webhook (checked as an HMAC of the body), or GitLab's secret token.
	// +required
	SecretRef SecretKeyReference `json:"secretRef"`
}
