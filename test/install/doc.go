// Package install tests the install manifests of config/ the way a person uses them: rendered and
// applied with kubectl to an empty API server, then the quick start's objects applied and listed.
package install
