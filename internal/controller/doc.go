// Package controller holds the reconcilers of GitProvider, GitTarget, WatchRule and
// ClusterWatchRule: they validate what the API server cannot, turn the custom resources into the
// plan the watch and Git writer follow, and report progress as status conditions and Events.
//
// The RBAC markers below are the operator's whole cluster role; controller-gen renders them into
// config/rbac/role.yaml.
//
// The operator reads every resource a rule can name, so it may list and watch everything; it
// writes only its own resources, Events, its leader-election Lease and the age key Secrets that
// GitTargets ask it to generate.
//
// +kubebuilder:rbac:groups=configbutler.ai,resources=gitproviders;gittargets;watchrules;clusterwatchrules;commitrequests,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=configbutler.ai,resources=gitproviders/status;gittargets/status;watchrules/status;clusterwatchrules/status;commitrequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=configbutler.ai,resources=gitproviders/finalizers;gittargets/finalizers;watchrules/finalizers;clusterwatchrules/finalizers,verbs=update
// +kubebuilder:rbac:groups=*,resources=*,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=impersonate
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
package controller
