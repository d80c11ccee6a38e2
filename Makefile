# gitops-reverser. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

# Tools run with `go run` at pinned versions: nothing to install, nothing outside the Go module proxy.
CONTROLLER_GEN ?= go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0
HELM ?= go run helm.sh/helm/v3/cmd/helm@v3.22.0

# Test binaries (kube-apiserver, etcd, kubectl) are built from Go modules by hack/controlplane into a
# cache outside the clone. Set KUBEBUILDER_ASSETS to use binaries of your own instead.
CONTROLPLANE_BUILD := hack/controlplane/build.sh

GO_TEST_FLAGS ?= -race -count=1 -timeout=30m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate CRDs and RBAC under config/ from the API types and kubebuilder markers, and the Helm chart's copies of them.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./api/..." paths="./internal/..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/chart

.PHONY: generate
generate: ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify
verify: generate manifests build-installer ## Regenerate and fail if generated files, dist/install.yaml or formatting differ from what is committed.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	@git diff --exit-code -- api config charts dist || { echo "generated files are stale: run 'make generate manifests build-installer' and commit"; exit 1; }

.PHONY: controlplane
controlplane: ## Build kube-apiserver, etcd and kubectl from Go modules into the cache (once).
	@$(CONTROLPLANE_BUILD) >/dev/null

.PHONY: test
test: vet controlplane ## Run vet, then every test with -race against a real API server and real Git servers.
	KUBEBUILDER_ASSETS="$${KUBEBUILDER_ASSETS:-$$($(CONTROLPLANE_BUILD))}" go test $(GO_TEST_FLAGS) ./...

DEMO_ARGS ?=

.PHONY: demo
# Built, then run: `go run` would exit with status 1 after Ctrl-C even when the demo stopped cleanly.
demo: controlplane ## Run everything locally (control plane, Git server, operator), show attributed commits; Ctrl-C stops. DEMO_ARGS=-keep keeps its files.
	go build -o bin/demo ./hack/demo
	bin/demo $(DEMO_ARGS)

##@ Benchmarks

.PHONY: bench-git
bench-git: ## Git writer vs git fast-import: one-file commits/s on a 10,000-file repository, and a 1,000-commit push vs the git CLI.
	go run ./hack/bench-git

.PHONY: bench-e2e
bench-e2e: controlplane ## End to end on a real API server and Git server: write→commit latency at 100 writes/s, 10,000-ConfigMap snapshot, RSS, restart.
	go run ./hack/bench-e2e

.PHONY: bench-webhook
bench-webhook: controlplane ## The attribution webhook's cost to writes no rule watches: API latency with no webhook, the operator up, down and hung.
	go run ./hack/bench-webhook

.PHONY: bench-apply
bench-apply: controlplane ## Git → cluster on a real API server: apply 1,000 manifests vs kubectl apply --server-side -R, no-op re-apply, drift correction latency.
	go run ./hack/bench-apply

CHAOS_ENV ?= CHAOS_KILLS=20 CHAOS_RATE=100 CHAOS_GIT_RATE=2 CHAOS_LOG_LEVEL=info CHAOS_GIT_DOWN=60s CHAOS_ALL_DOWN=10s CHAOS_LEASE=15s

FUZZTIME ?= 2m
.PHONY: fuzz
fuzz: ## Fuzz our SOPS format against the sops library, both ways (FUZZTIME, default 2m).
	go test -run '^$$' -fuzz FuzzSopsAndOursAgree -fuzztime $(FUZZTIME) ./internal/secrets

.PHONY: chaos
chaos: controlplane ## Three replicas under 100 writes/s and 2 Git commits/s with drift: the leader killed 20 times, Git down 60s, the API server restarted, every replica down; prints one line of figures. (make test runs it smaller.)
	KUBEBUILDER_ASSETS="$${KUBEBUILDER_ASSETS:-$$($(CONTROLPLANE_BUILD))}" $(CHAOS_ENV) go test -count=1 -timeout=90m -v -run TestChaos ./test/chaos | grep -vE '^\s+\{'

##@ Build

.PHONY: build
build: ## Build the operator binary into bin/.
	go build -o bin/gitops-reverser ./cmd/gitops-reverser

.PHONY: run
# Attribution is off: the API server of a remote cluster cannot call a webhook on this machine.
# RUN_ARGS adds flags, such as RUN_ARGS="--attribution=admission --webhook-cert-dir=...".
run: ## Run the operator against the cluster of the current kubeconfig (CRDs installed with `kubectl apply -k config/crd`).
	go run ./cmd/gitops-reverser --attribution=none --escalation-check=false --work-dir=.cache/work --health-probe-bind-address=:8081 $(RUN_ARGS)

IMG ?= ghcr.io/configbutler/gitops-reverser:latest

.PHONY: docker-build
docker-build: ## Build the operator's image (needs a Docker engine; not used by the tests).
	docker build -t $(IMG) .

.PHONY: build-installer
build-installer: ## Render config/default into dist/install.yaml, what the quick start's kubectl apply installs.
	mkdir -p dist
	{ echo "# gitops-reverser: rendered from config/default by make build-installer; do not edit."; \
	  "$$($(CONTROLPLANE_BUILD))/kubectl" kustomize config/default; } > dist/install.yaml

.PHONY: helm-lint
helm-lint: ## Lint the Helm chart and render it with its defaults (Helm at a pinned version, through go run).
	$(HELM) lint --strict charts/gitops-reverser
	$(HELM) template gitops-reverser charts/gitops-reverser --namespace gitops-reverser-system >/dev/null
