package v1alpha1

// Condition types. Ready is the summary a person reads first; Reconciling and Stalled follow the
// kstatus convention so tools such as Flux and kubectl wait understand our objects.
const (
	// ReadyCondition says whether the object does its job now.
	ReadyCondition = "Ready"
	// ReconcilingCondition is True while the controller works towards the desired state.
	ReconcilingCondition = "Reconciling"
	// StalledCondition is True when the controller cannot make progress without a change by a person.
	StalledCondition = "Stalled"
	// EncryptionKeyBackedUpCondition is False while a generated age key still carries the
	// backup-warning annotation.
	EncryptionKeyBackedUpCondition = "EncryptionKeyBackedUp"
	// AppliedCondition reports the Git → cluster direction of a GitTarget: whether the manifests
	// its syncTo: kubernetes rules select were applied.
	AppliedCondition = "Applied"
	// FiltersValidCondition is set on rules with filters: False when a filter can match no field
	// of a resource it selects, or two rules' filters of opposite directions overlap.
	FiltersValidCondition = "FiltersValid"
)

// Condition reasons. They are CamelCase, stable, and meant to be matched on by automation.
const (
	// ReasonConnected: the remote was reached, authenticated, and the branch can be written.
	ReasonConnected = "Connected"
	// ReasonAuthenticationFailed: the remote refused the credentials.
	ReasonAuthenticationFailed = "AuthenticationFailed"
	// ReasonHostKeyMismatch: the SSH host key is not in known_hosts, or known_hosts is missing.
	ReasonHostKeyMismatch = "HostKeyMismatch"
	// ReasonUnreachable: the remote could not be reached (DNS, TCP, timeouts).
	ReasonUnreachable = "Unreachable"
	// ReasonTLSVerificationFailed: the remote's TLS certificate could not be verified: signed by
	// an authority the GitProvider does not trust (ca.crt), expired, or for another host name.
	ReasonTLSVerificationFailed = "TLSVerificationFailed"
	// ReasonBranchNotAllowed: the branch does not match the GitProvider's allowedBranches.
	ReasonBranchNotAllowed = "BranchNotAllowed"
	// ReasonSecretNotFound: a referenced Secret or key does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonInvalidCredentials: a referenced Secret exists but its content cannot be used.
	ReasonInvalidCredentials = "InvalidCredentials"
	// ReasonProviderNotFound: the GitTarget's GitProvider does not exist.
	ReasonProviderNotFound = "ProviderNotFound"
	// ReasonProviderNotReady: the GitTarget's GitProvider is not Ready.
	ReasonProviderNotReady = "ProviderNotReady"
	// ReasonTargetNotFound: the rule's GitTarget does not exist.
	ReasonTargetNotFound = "TargetNotFound"
	// ReasonTargetNotReady: the rule's GitTarget is not Ready.
	ReasonTargetNotReady = "TargetNotReady"
	// ReasonPathConflict: another GitTarget writes to an overlapping folder of the same branch.
	ReasonPathConflict = "PathConflict"
	// ReasonResourceNotFound: a rule names a resource the API server does not serve.
	ReasonResourceNotFound = "ResourceNotFound"
	// ReasonInvalidSelector: a rule's labels or namespaceSelector is not a valid label selector.
	ReasonInvalidSelector = "InvalidSelector"
	// ReasonResourcesResolved: every rule resolved to served resources.
	ReasonResourcesResolved = "ResourcesResolved"
	// ReasonEncryptionNotReady: no usable encryption recipient; sensitive changes are held.
	ReasonEncryptionNotReady = "EncryptionNotReady"
	// ReasonKeyNotBackedUp: the generated age key still has the backup-warning annotation.
	ReasonKeyNotBackedUp = "KeyNotBackedUp"
	// ReasonKeyBackedUp: the backup-warning annotation was removed by a person.
	ReasonKeyBackedUp = "KeyBackedUp"
	// ReasonInvalidCommitSubject: the commitSubject template of the GitTarget or its GitProvider
	// does not parse or render (admission refuses it where the validating webhook runs).
	ReasonInvalidCommitSubject = "InvalidCommitSubject"
	// ReasonSaved: a CommitRequest's changes are on the remote.
	ReasonSaved = "Saved"
	// ReasonTargetSuspended: a CommitRequest's GitTarget is suspended; nothing is committed.
	ReasonTargetSuspended = "TargetSuspended"
	// ReasonSaveFailed: a CommitRequest could not be carried out; the message says why.
	ReasonSaveFailed = "SaveFailed"
	// ReasonSuspended (an Event): the GitTarget's spec.suspend was set.
	ReasonSuspended = "Suspended"
	// ReasonResumed (an Event): the GitTarget's spec.suspend was cleared.
	ReasonResumed = "Resumed"
	// ReasonKubeConfigNotFound: the GitTarget's kubeConfig Secret or key does not exist.
	ReasonKubeConfigNotFound = "KubeConfigNotFound"
	// ReasonKubeConfigInvalid: the kubeconfig does not parse, or asks for what is refused (exec
	// and auth-provider plugins, files, insecure-skip-tls-verify).
	ReasonKubeConfigInvalid = "KubeConfigInvalid"
	// ReasonClusterUnreachable: the kubeconfig's API server could not be reached or verified.
	ReasonClusterUnreachable = "ClusterUnreachable"
	// ReasonClusterAuthenticationFailed: the kubeconfig's API server refused its credentials
	// (expired, revoked or wrong).
	ReasonClusterAuthenticationFailed = "ClusterAuthenticationFailed"
	// ReasonSynced: the target folder holds the state of the watched resources.
	ReasonSynced = "Synced"
	// ReasonApplied: every selected manifest of the revision was applied.
	ReasonApplied = "Applied"
	// ReasonApplyFailed: the API server refused some objects; the others were applied.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonInvalidManifest: some files are not valid manifests; the others were applied.
	ReasonInvalidManifest = "InvalidManifest"
	// ReasonDecryptionFailed: some encrypted files could not be decrypted with the target's keys.
	ReasonDecryptionFailed = "DecryptionFailed"
	// ReasonForbidden: the account the rule applies as may not apply some objects.
	ReasonForbidden = "Forbidden"
	// ReasonOutsideScope: some files name objects outside what the rule may apply (another
	// namespace, or a cluster-scoped kind in a WatchRule's folder); they were refused.
	ReasonOutsideScope = "OutsideScope"
	// ReasonProgressing: the controller is working; Ready follows when it is done.
	ReasonProgressing = "Progressing"
	// ReasonFiltersValid: every filter can match, and none overlaps another direction's.
	ReasonFiltersValid = "FiltersValid"
	// ReasonFilterMatchesNothing: a filter names a field the resource's schema does not have.
	ReasonFilterMatchesNothing = "FilterMatchesNothing"
	// ReasonFiltersOverlap: filters of rules with opposite directions claim the same fields;
	// the earlier rule wins there.
	ReasonFiltersOverlap = "FiltersOverlap"
)
