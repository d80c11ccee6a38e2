#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from Go modules (no downloads of release binaries, no Docker)
# into a cache outside the clone, keyed by the versions pinned in this module's go.mod. Prints the
# directory holding the binaries (what envtest calls KUBEBUILDER_ASSETS). A second run is a no-op.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kube=$(cd "$here" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd=$(cd "$here" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
goarch=$(go env GOOS)-$(go env GOARCH)
cache=${GITOPS_REVERSER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-reverser}
dir="$cache/controlplane/kube-$kube-etcd-$etcd-$goarch"
built() { [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ] && [ -x "$dir/kubectl" ]; }
if built; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir"
# Test packages run in parallel and may all find the cache empty: the first builds, the rest wait.
exec 9>"$dir.lock"
flock 9
if built; then
  echo "$dir"
  exit 0
fi
tmp=$(mktemp -d "$dir.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$here"
echo "building kube-apiserver $kube, kubectl $kube and etcd $etcd into $dir (once; several minutes when Go caches are cold)" >&2
export CGO_ENABLED=0
# Stamp the version the way Kubernetes' own build does, so /version and kubectl report it.
minor=${kube#v1.}; minor=${minor%%.*}
kver=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kver+=" -X $pkg.gitVersion=$kube -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
go build -trimpath -ldflags="-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
go build -trimpath -ldflags="-s -w$kver" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
go build -trimpath -ldflags="-s -w$kver" -o "$tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
mv "$tmp"/* "$dir"/
echo "$dir"
