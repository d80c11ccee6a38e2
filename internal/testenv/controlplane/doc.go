// Package controlplane starts a real kube-apiserver and etcd for tests and for `make demo`.
//
// The binaries are built from Go modules by hack/controlplane/build.sh into a cache outside the
// clone (keyed by version), so no test depends on downloads, Docker or a cluster. When the cache is
// cold, the first caller builds them; nothing is ever skipped for want of binaries.
package controlplane
