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
