// Package v1alpha1 holds the configbutler.ai/v1alpha1 API: GitProvider (a repository, its credentials
// and push policy), GitTarget (a branch and folder in that repository, with encryption), WatchRule
// (rules for the resources of its own namespace) and ClusterWatchRule (rules for cluster-scoped
// resources and a selection of namespaces).
//
// Validation lives in the CRD schema (OpenAPI and CEL) so the API server rejects bad objects with a
// message a person understands; the controllers only check what needs other objects to decide.
//
// +kubebuilder:object:generate=true
// +groupName=configbutler.ai
package v1alpha1
