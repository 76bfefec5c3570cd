# ferry's build. `make test` is the README's test command: it installs and
# starts what the tests need, so it passes on a fresh machine.

SHELL := /bin/bash
GO ?= go
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/ferry-ml/ferry/internal/version.Commit=$(COMMIT)
# The same tags as version.BuildTags: gs:// without gRPC DirectPath's xDS
# client, which ferry never uses and every command would pay for at start-up.
TAGS := disable_grpc_modules

# Tools run from pinned module versions; nothing to download by hand.
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
ACTIONLINT := $(GO) run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

.PHONY: all build test unit integration lint actionlint image demo bench testdata generate verify deps clean act \
	cluster-build s3-build cluster-up cluster-down cluster-status

all: build

build: ## the ferry and ferry-serve binaries, in bin/
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags "$(LDFLAGS)" -o bin/ferry ./cmd/ferry
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags "$(LDFLAGS)" -o bin/ferry-serve ./cmd/ferry-serve

deps: ## install podman, runc, skopeo, the registry, XGBoost, node and ONNX Runtime (npm, into bin/ort) when missing
	./hack/deps.sh

image: ## the action image, linux/amd64 and linux/arm64, as an OCI layout in bin/image
	$(GO) run ./hack/image --layout bin/image

test: deps image cluster-build s3-build act lint ## everything: lint, unit and integration tests, with -race
	$(GO) test -race -count=1 -timeout 40m ./...

act: ## nektos/act, the real Actions runner the workflow tests run, in bin/act
	./hack/act.sh

cluster-build: ## etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok from the module proxy, in bin/cluster/bin
	./hack/cluster/build.sh

s3-build: ## versitygw, the S3-compatible server the object storage tests read from, in bin/s3
	./hack/s3/build.sh

cluster-up: deps cluster-build ## a local control plane with kwok nodes (two CPU, one with 4 GPUs) and a real node (containerd, kubelet); kubeconfig at bin/cluster/kubeconfig
	$(GO) run ./hack/cluster up

cluster-down: ## stop what cluster-up started, and clean the real node (shims, mounts, bridge)
	$(GO) run ./hack/cluster down

cluster-status: ## which of the cluster's programs run
	$(GO) run ./hack/cluster status

unit: ## unit tests only (no podman, no image)
	$(GO) test -race -short ./internal/... ./templates/...

lint: actionlint ## gofmt, go vet, staticcheck, actionlint
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

actionlint: ## actionlint on this repository's workflows, the workflows ferry init writes, and the actions
	$(GO) run ./hack/workflows bin/workflows
	$(ACTIONLINT) -config-file .github/actionlint.yaml .github/workflows/*.yml bin/workflows/.github/workflows/*.yml

demo: ## the whole loop on embedded defaults (static, so the demo can package itself as ferry-serve)
	CGO_ENABLED=0 $(GO) run -tags $(TAGS) -ldflags "$(LDFLAGS)" ./cmd/ferry demo

bench: ## benchmarks against XGBoost, scikit-learn, DuckDB, ONNX Runtime, GNU tar, Flask, skopeo and kubectl; results and how to read them in BENCHMARKS.md
	./hack/deps.sh
	./hack/deps.sh bench
	$(GO) test -run '^$$' -bench . -benchmem ./bench/...
	$(GO) run ./bench/trainbench
	$(GO) run ./bench/trainbench -scaling
	$(GO) run ./bench/searchbench
	$(GO) run ./bench/parquetbench
	$(GO) run ./bench/servebench
	$(GO) run ./bench/servemem
	$(GO) run ./bench/onnxbench
	$(GO) run ./bench/packagebench
	./hack/cluster/build.sh
	$(GO) run ./bench/deploybench

testdata: ## regenerate the interop fixtures with the real producers (Debian's XGBoost and PyTorch, DuckDB)
	./hack/deps.sh testdata
	/usr/bin/python3 hack/testdata/xgboost_models.py
	/usr/bin/python3 hack/testdata/onnx_models.py
	/usr/bin/python3 hack/testdata/onnx_opset18.py
	node hack/testdata/parquet.mjs

generate: ## action.yml files and the actions' reference from internal/stage
	$(GO) run ./hack/actiongen

verify: generate ## fail when generated files or go.mod are stale
	$(GO) mod tidy
	git diff --exit-code -- action.yml actions/ docs/configuration.md go.mod go.sum || { echo "generated files are stale: run make generate and go mod tidy"; exit 1; }

clean:
	rm -rf bin/ ferry-demo/
