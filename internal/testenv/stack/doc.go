// Package stack starts the whole system the way a cluster runs it, for end-to-end tests, `make
// demo` and `make bench-e2e`: a local control plane whose API server sends the operator both
// attribution sources (the admission webhook of config/webhook and an audit webhook), a serving
// certificate for the operator's webhook server, kubeconfigs for an admin and for named users,
// and the operator's real binary, started, stopped and killed as a process.
package stack
