# Every developer and CI entry point. `make help` lists them.
#
# Tools (buf, protoc plugins, controller-gen, golangci-lint, kube-apiserver,
# etcd) are built from the pinned tools modules under tools/ into CACHE_DIR,
# keyed by version, so only the first run on a machine pays for the builds.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := build

CACHE_DIR ?= $(HOME)/.cache/kubectl-otterscale
TOOLS_BIN := $(CACHE_DIR)/bin
# go-ceph must be told which Ceph release it builds against: Debian 12 has
# 16.2 (pacific). Every go command run by make gets the tag.
GO_TAGS ?= pacific
export GOFLAGS := -buildvcs=false -tags=$(GO_TAGS)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION_PKG := github.com/otterscale/kubectl-otterscale/pkg/version
LDFLAGS := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT) -X $(VERSION_PKG).Date=$(DATE)

PREFIX ?= /usr/local
BIN := bin/kubectl-otterscale
# The Ceph worker: every librados and librbd call runs in it (pkg/worker).
WORKER := bin/otterscale-ceph

# Pinned tool versions (the tools/*/go.mod files pin the same ones).
BUF_VERSION            := v1.75.0
PROTOC_GEN_GO_VERSION  := v1.36.11
CONNECT_GO_VERSION     := v1.21.1
CONTROLLER_GEN_VERSION := v0.18.0
GOLANGCI_LINT_VERSION  := v2.15.0
KUBE_VERSION           := v1.32.4
ETCD_VERSION           := v3.5.17
GRPCURL_VERSION        := v1.9.3
KREW_VERSION           := v0.4.4
GORELEASER_VERSION     := v2.15.1

BUF            := $(TOOLS_BIN)/buf-$(BUF_VERSION)
PROTOC_GEN_GO  := $(TOOLS_BIN)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION)
PROTOC_GEN_CONNECT_GO := $(TOOLS_BIN)/protoc-gen-connect-go-$(CONNECT_GO_VERSION)
CONTROLLER_GEN := $(TOOLS_BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GOLANGCI_LINT  := $(TOOLS_BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
KUBE_APISERVER := $(TOOLS_BIN)/kube-apiserver-$(KUBE_VERSION)
ETCD           := $(TOOLS_BIN)/etcd-$(ETCD_VERSION)
GRPCURL        := $(TOOLS_BIN)/grpcurl-$(GRPCURL_VERSION)
KREW           := $(TOOLS_BIN)/krew-$(KREW_VERSION)
VALIDATE_KREW_MANIFEST := $(TOOLS_BIN)/validate-krew-manifest-$(KREW_VERSION)
GORELEASER     := $(TOOLS_BIN)/goreleaser-$(GORELEASER_VERSION)
# kubectl for machines that lack one, in a directory of its own to put on PATH.
KUBECTL        := $(CACHE_DIR)/kubectl-$(KUBE_VERSION)/kubectl

# The test environment finds its binaries through these.
export OTTERSCALE_KUBE_APISERVER := $(KUBE_APISERVER)
export OTTERSCALE_ETCD := $(ETCD)
export OTTERSCALE_CRD_DIR := $(CURDIR)/testdata/crd
# The e2e tests, the demo and the benchmarks run this binary; the tests'
# own Ceph calls run in the otterscale-ceph beside it.
export OTTERSCALE_BINARY := $(CURDIR)/$(BIN)
# The e2e tests and the demo call the proxy with these, as users do.
export OTTERSCALE_BUF := $(BUF)
export OTTERSCALE_GRPCURL := $(GRPCURL)

GO_TEST_FLAGS ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# kubectl-otterscale is always built without cgo; otterscale-ceph, beside
# it, is the Ceph-enabled build (cgo, -tags $(GO_TAGS)) it runs Ceph calls in.
.PHONY: build
build: system-deps ## build bin/kubectl-otterscale (cgo-free) and bin/otterscale-ceph (its Ceph worker)
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kubectl-otterscale
	CGO_ENABLED=1 go build -trimpath -ldflags '$(LDFLAGS)' -o $(WORKER) ./cmd/otterscale-ceph

# kubectl (1.26+) completes `kubectl otterscale ...` through the
# kubectl_complete-otterscale script beside the plugin.
.PHONY: install
install: build ## install kubectl-otterscale into $(PREFIX)/bin so that `kubectl otterscale` works
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/kubectl-otterscale
	install -D -m 0755 $(WORKER) $(DESTDIR)$(PREFIX)/bin/otterscale-ceph
	install -D -m 0755 krew/kubectl_complete-otterscale $(DESTDIR)$(PREFIX)/bin/kubectl_complete-otterscale

.PHONY: tools
tools: $(BUF) $(PROTOC_GEN_GO) $(PROTOC_GEN_CONNECT_GO) $(CONTROLLER_GEN) $(GOLANGCI_LINT) $(GRPCURL) testenv-bins ## build every pinned tool

.PHONY: testenv-bins
testenv-bins: $(KUBE_APISERVER) $(ETCD) ## build kube-apiserver and etcd for the test environment

$(BUF):
	cd tools/proto && go build -o $@ github.com/bufbuild/buf/cmd/buf
$(PROTOC_GEN_GO):
	cd tools/proto && go build -o $@ google.golang.org/protobuf/cmd/protoc-gen-go
$(PROTOC_GEN_CONNECT_GO):
	cd tools/proto && go build -o $@ connectrpc.com/connect/cmd/protoc-gen-connect-go
$(CONTROLLER_GEN):
	cd tools/controller-gen && go build -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen
$(GOLANGCI_LINT):
	cd tools/lint && go build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint
# Some Kubernetes staging modules are missing from the checksum database;
# only this build needs them, so only this build skips it for k8s.io.
$(KUBE_APISERVER):
	cd tools/kube-apiserver && GONOSUMDB=k8s.io go build -o $@ \
	  -ldflags '-s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=32 -X k8s.io/component-base/version.gitTreeState=clean' \
	  k8s.io/kubernetes/cmd/kube-apiserver
$(ETCD):
	cd tools/etcd && go build -o $@ go.etcd.io/etcd/server/v3
$(GRPCURL):
	cd tools/grpcurl && go build -ldflags '-X main.version=$(GRPCURL_VERSION)' -o $@ github.com/fullstorydev/grpcurl/cmd/grpcurl
$(KREW):
	cd tools/krew && go build -o $@ -ldflags '-X sigs.k8s.io/krew/internal/version.gitTag=$(KREW_VERSION)' sigs.k8s.io/krew/cmd/krew
$(VALIDATE_KREW_MANIFEST):
	cd tools/krew && go build -o $@ sigs.k8s.io/krew/cmd/validate-krew-manifest
# A big build (several minutes on a cold cache); make dist and goreleaser-check use it.
$(GORELEASER):
	cd tools/goreleaser && go build -o $@ github.com/goreleaser/goreleaser/v2
$(KUBECTL):
	cd tools/kube-apiserver && GONOSUMDB=k8s.io go build -o $@ \
	  -ldflags '-s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=32 -X k8s.io/component-base/version.gitTreeState=clean' \
	  k8s.io/kubernetes/cmd/kubectl

.PHONY: kubectl
kubectl: $(KUBECTL) ## build kubectl (for machines without one) and print the directory to put on PATH
	@dirname $(KUBECTL)

# buf runs the plugins by name, so put the pinned ones first on PATH.
PROTO_PATH := $(CACHE_DIR)/protoc-plugins
.PHONY: generate
generate: $(BUF) $(PROTOC_GEN_GO) $(PROTOC_GEN_CONNECT_GO) $(CONTROLLER_GEN) ## regenerate gen/ from proto/ and the CDI CRDs in testdata/crd
	@mkdir -p $(PROTO_PATH)
	@ln -sf $(PROTOC_GEN_GO) $(PROTO_PATH)/protoc-gen-go
	@ln -sf $(PROTOC_GEN_CONNECT_GO) $(PROTO_PATH)/protoc-gen-connect-go
	cd proto && $(BUF) lint && PATH=$(PROTO_PATH):$$PATH $(BUF) generate
	rm -rf testdata/crd && mkdir -p testdata/crd
	$(CONTROLLER_GEN) crd:crdVersions=v1 paths=kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1 output:crd:dir=testdata/crd

.PHONY: check-generated
check-generated: generate ## fail when gen/ or testdata/crd is stale
	@if [ -n "$$(git status --porcelain -- gen testdata/crd)" ]; then \
	  git status --porcelain -- gen testdata/crd; git diff --stat -- gen testdata/crd; \
	  echo "generated code is stale: run 'make generate' and commit the result" >&2; exit 1; fi

.PHONY: lint
lint: $(GOLANGCI_LINT) $(BUF) ## golangci-lint, buf lint, the no-cgo build, and no tracked file over 1 MiB
	go run ./hack/sizecheck
	$(GOLANGCI_LINT) run ./...
	cd proto && $(BUF) lint
	CGO_ENABLED=0 go build ./...

# The e2e tests run the plugin through kubectl: use the machine's, or else
# one built from the same Kubernetes release as the test API server.
ifeq ($(shell command -v kubectl 2>/dev/null),)
TEST_KUBECTL := $(KUBECTL)
export PATH := $(dir $(KUBECTL)):$(PATH)
endif

.PHONY: system-deps
system-deps: ## install the Debian packages the tests and the demo need (Ceph, go-ceph's headers) when missing
	@hack/system-deps.sh

# The browser test (test/browser) runs a page in Debian's Chromium with the
# npm packages its package-lock.json pins (playwright-core downloads no
# browser) and the TypeScript client protoc-gen-es generates from proto/
# (into test/browser/gen, git-ignored), and the one it generates from
# upstream's final schema, test/e2e/testdata/upstream, as OtterScale's web UI
# has it (into test/browser/gen-upstream, git-ignored). Each step reruns only
# when its inputs changed.
BROWSER_DIR := test/browser
BROWSER_NPM := $(BROWSER_DIR)/node_modules/.package-lock.json
BROWSER_GEN := $(BROWSER_DIR)/gen/.generated
BROWSER_GEN_UPSTREAM := $(BROWSER_DIR)/gen-upstream/.generated
.PHONY: browser-deps
browser-deps: $(BROWSER_NPM) $(BROWSER_GEN) $(BROWSER_GEN_UPSTREAM) ## npm packages and the generated TypeScript client for the browser test
$(BROWSER_NPM): $(BROWSER_DIR)/package-lock.json
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund
	@touch $@
$(BROWSER_GEN): $(BUF) $(BROWSER_NPM) $(BROWSER_DIR)/buf.gen.yaml $(wildcard proto/otterscale/*/v1/*.proto)
	cd $(BROWSER_DIR) && $(BUF) generate
	@touch $@
$(BROWSER_GEN_UPSTREAM): $(BUF) $(BROWSER_NPM) $(BROWSER_DIR)/buf.gen.upstream.yaml $(wildcard test/e2e/testdata/upstream/buf.yaml test/e2e/testdata/upstream/otterscale/*/v1/*.proto)
	cd $(BROWSER_DIR) && $(BUF) generate --template buf.gen.upstream.yaml
	@touch $@

.PHONY: test
test: system-deps $(TEST_KUBECTL) testenv-bins $(BUF) $(GRPCURL) check-generated lint build browser-deps ## unit, integration and end-to-end tests against a real kube-apiserver and a real Ceph
	CGO_ENABLED=0 go test -count=1 $(GO_TEST_FLAGS) ./...

.PHONY: test-unit
test-unit: ## the fast tests that need no API server
	go test -count=1 -short ./...

# Release archives, the Krew manifest and goreleaser (README, "Release").
# .goreleaser.yaml describes the archives and .krew.yaml the Krew manifest,
# once each: a tag's release runs them on GitHub (goreleaser, then
# krew-release-bot), and these targets run them here, offline.
#
# Krew wants a semantic version. A VERSION given on the command line is used
# as it is (make dist refuses a bad one); otherwise git describe's,
# or for an untagged tree a development one.
DIST_VERSION := $(if $(filter command line,$(origin VERSION)),$(VERSION),$(if $(shell [[ '$(VERSION)' =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] && echo y),$(VERSION),v0.0.0-dev))
# Empty builds every platform of .goreleaser.yaml; else os/arch,... builds
# those only.
DIST_PLATFORMS ?=
# make test builds these archives only (each further platform costs a minute
# or two on a cold cache): linux/amd64 with otterscale-ceph, and a .zip.
KREW_TEST_PLATFORMS ?= linux/amd64,windows/amd64
# hack/krew-manifest's flags: when DIST_PLATFORMS built fewer platforms,
# the manifest leaves the others out.
KREW_MANIFEST_FLAGS ?= $(if $(DIST_PLATFORMS),-skip-missing)
# goreleaser asks git for the remote's URL; where there is none (a worktree,
# an unpacked tarball) that error makes a snapshot forget the commit, and so
# the commit's time that keeps builds reproducible. Name one for it alone.
GORELEASER_ENV := GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/otterscale/kubectl-otterscale \
  GORELEASER_CURRENT_TAG='$(DIST_VERSION)' $(if $(DIST_PLATFORMS),DIST_PLATFORMS='$(DIST_PLATFORMS)')
# test/krew finds the archives and the krew tools through these.
export OTTERSCALE_DIST := $(CURDIR)/dist
export OTTERSCALE_KREW := $(KREW)
export OTTERSCALE_VALIDATE_KREW_MANIFEST := $(VALIDATE_KREW_MANIFEST)

.PHONY: dist
dist: system-deps $(GORELEASER) ## release archives and checksums.txt in dist/ with goreleaser, offline: make dist VERSION=vX.Y.Z
	@[[ '$(DIST_VERSION)' =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$$ ]] || \
	  { echo "VERSION=$(DIST_VERSION): want a semantic version with a leading v, such as v1.2.3" >&2; exit 1; }
	$(GORELEASER_ENV) $(GORELEASER) release --snapshot --clean

.PHONY: krew-manifest
krew-manifest: $(VALIDATE_KREW_MANIFEST) ## render .krew.yaml for dist/'s archives into dist/krew/otterscale.yaml and validate it: make krew-manifest VERSION=vX.Y.Z
	go run ./hack/krew-manifest -tag '$(DIST_VERSION)' -dist dist $(KREW_MANIFEST_FLAGS)
	$(VALIDATE_KREW_MANIFEST) -manifest dist/krew/otterscale.yaml -skip-install

.PHONY: krew-test
krew-test: $(KREW) $(VALIDATE_KREW_MANIFEST) $(TEST_KUBECTL) ## build archives and the manifest, install them with krew into a temporary KREW_ROOT, run the plugin
	$(MAKE) --no-print-directory dist krew-manifest DIST_PLATFORMS='$(KREW_TEST_PLATFORMS)'
	go test -count=1 ./test/krew

.PHONY: goreleaser-check
goreleaser-check: $(GORELEASER) ## check .goreleaser.yaml with goreleaser itself
	$(GORELEASER) check

test: krew-test goreleaser-check

.PHONY: testenv
testenv: testenv-bins build ## keep a sandbox API server with the CDI CRDs running and print how to use it (Ctrl-C stops it)
	go run ./hack/sandbox

# bin/kubectl-otterscale is the one (cgo-free) plugin build; its Ceph
# section runs it with bin/otterscale-ceph beside it, as Krew installs
# them. The bench itself is built with cgo (and -tags $(GO_TAGS), from
# GOFLAGS) so that it can also make the worker's Ceph calls in-process.
# BENCH_FLAGS passes flags, e.g. `make bench BENCH_FLAGS=-only=ceph`.
BENCH_FLAGS ?=
.PHONY: bench
bench: system-deps testenv-bins build ## benchmarks against kubectl and rbd on a local API server and Ceph (BENCH_FLAGS=-only=ceph: Ceph only)
	CGO_ENABLED=1 go run ./bench $(BENCH_FLAGS)

.PHONY: demo
demo: system-deps testenv-bins $(BUF) build ## a local sandbox with the plugin doing its work
	go run ./hack/sandbox -demo

.PHONY: clean
clean: ## remove build output (the tool cache in CACHE_DIR stays)
	rm -rf bin dist
