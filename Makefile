# rooms-export — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
PORT  ?= 3000
DATA_DIR ?= ./.data
export PORT DATA_DIR

EMULATORS := infra/emulators/node_modules/.package-lock.json

.PHONY: run seed test vet fmt-check emulators

## run: the local API on 127.0.0.1:$(PORT) with the embedded default (seeds demo data on first start)
run:
	$(GO) run ./infra/local

## seed: (re)load the demo workspace into $(DATA_DIR)
seed:
	$(GO) run ./infra/local -seed

## test: formatting, vet and every test with the race detector; the AWS
## adapters' suites start the pinned emulators (dynalite, s3rver,
## aws-ses-v2-local) themselves, installed here from package-lock.json.
test: fmt-check vet emulators
	$(GO) test -race -count=1 ./...

## emulators: install the pinned AWS emulators (npm ci in infra/emulators)
emulators: $(EMULATORS)
$(EMULATORS): infra/emulators/package-lock.json
	npm ci --prefix infra/emulators --no-audit --no-fund --loglevel=error

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## ---- Lambda builds: `sam build` (BuildMethod: makefile) runs
## `make build-<LogicalId>` with ARTIFACTS_DIR set; the function's code is
## $(ARTIFACTS_DIR)/bootstrap, a static linux binary for provided.al2023.
## LAMBDA_ARCH must match the template's Architectures (arm64); the
## end-to-end test overrides it to run the binary on this machine.
LAMBDA_ARCH    ?= arm64
LAMBDA_GOFLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
LAMBDA_BUILD    = GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0 $(GO) build $(LAMBDA_GOFLAGS) -o "$(ARTIFACTS_DIR)/bootstrap"

.PHONY: build-ApiFunction build-WorkerFunction lambda-artifacts-dir

build-ApiFunction: lambda-artifacts-dir
	$(LAMBDA_BUILD) ./functions/api

build-WorkerFunction: lambda-artifacts-dir
	$(LAMBDA_BUILD) ./functions/worker

lambda-artifacts-dir:
	@if [ -z "$(ARTIFACTS_DIR)" ]; then echo "ARTIFACTS_DIR is not set: run sam build, or make build-ApiFunction ARTIFACTS_DIR=dir"; exit 1; fi

## ---- Loading data (infra/load): any source into the embedded default or a
## deployed stack. FROM is demo, seed:FILE or a Rocket.Chat dump folder
## (mongodump --out or mongoexport files); TO is embedded (DATA_DIR) or aws
## (DIRECTORY_TABLE, MESSAGES_TABLE, JOBS_TABLE, EXPORTS_BUCKET from the
## environment, AWS credentials as for the AWS CLI). FILES is a folder of
## upload bytes kept outside MongoDB; DRY_RUN=1 checks and counts only.
FROM ?=
TO   ?= embedded
LOAD_FLAGS = --to $(TO) $(if $(FILES),--files $(FILES)) $(if $(DRY_RUN),--dry-run)

.PHONY: import

## import: load data: make import FROM=demo|seed:FILE|<Rocket.Chat dump folder> [TO=embedded|aws] [FILES=dir] [DRY_RUN=1]
import:
	@if [ -z "$(FROM)" ]; then echo "usage: make import FROM=demo|seed:FILE|<mongodump or mongoexport folder> [TO=embedded|aws] [FILES=<uploads folder>] [DRY_RUN=1]"; exit 2; fi
	$(GO) run ./infra/load --from $(if $(filter demo seed:% rocketchat:%,$(FROM)),$(FROM),rocketchat:$(FROM)) $(LOAD_FLAGS)

## ---- Measuring tools. They report; they assert nothing about speed.

.PHONY: bench load

## bench: generate 10k, 100k and 1M-message rooms, export each as JSON and
## HTML in a fresh process (seconds, messages/s, output, peak RSS), and a
## 100k room through the AWS adapters against dynalite beside a raw Query;
## prints Markdown tables. BENCH_FLAGS='-sizes 10k,100k -aws 0' to choose.
## The hot loops: go test -run '^$$' -bench . ./shared/render ./shared/boltstore ./shared/export
bench: emulators
	$(GO) run ./infra/bench $(BENCH_FLAGS)

## load: 32 concurrent clients against the local server's handler on a
## loopback port for 30 s (bounded in requests too): requests/s, p50/p99
## latency, errors. LOAD_CHECK_FLAGS='-clients 8 -duration 10s' to choose.
load:
	$(GO) run ./infra/loadcheck $(LOAD_CHECK_FLAGS)
