# The two commands a person needs: `make dev` and `make test`. Everything they use is installed or
# built by the project's own files: Debian packages by .ci/install-deps, Nomad by .ci/build-nomad
# (pinned, built from the Go module proxy, cached in ~/.cache/spaces), the rest by `go build`.
SHELL := /bin/bash
BIN   := $(CURDIR)/.bin
GO    ?= go
STATICCHECK_VERSION := v0.8.2

.PHONY: dev test faults build vet bench rush clean-dev help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

build: ## compile spaces, the Nextcloud stand-in and the test runner into .bin/
	@$(GO) build -o $(BIN)/spaces ./cmd/spaces
	@$(GO) build -o $(BIN)/nextcloud-standin ./cmd/nextcloud-standin
	@$(GO) build -o $(BIN)/testenv ./cmd/testenv

dev: build ## run Postgres, Nomad and the server here, with a seeded moderator and API token
	@.ci/install-deps
	@nomad=$$(.ci/build-nomad) && \
	  SPACES_NOMAD_BIN=$$nomad SPACES_STANDIN_BIN=$(BIN)/nextcloud-standin exec $(BIN)/spaces dev

test: build ## the whole suite against real Postgres, Nomad and Chromium
	@.ci/install-deps --browser
	@nomad=$$(.ci/build-nomad) && \
	  SPACES_NOMAD_BIN=$$nomad SPACES_STANDIN_BIN=$(BIN)/nextcloud-standin SPACES_CHROMIUM=/usr/bin/chromium \
	  $(BIN)/testenv -- $(GO) test -race -count=1 -timeout 40m ./...
	@$(GO) vet ./...

faults: build ## the fault tests (build tag faults): Postgres and Nomad restarted, SMTP down, a sick space, a full disk
	@.ci/install-deps
	@nomad=$$(.ci/build-nomad) && \
	  SPACES_NOMAD_BIN=$$nomad SPACES_STANDIN_BIN=$(BIN)/nextcloud-standin \
	  $(BIN)/testenv -- $(GO) test -tags faults -race -count=1 -timeout 15m -run '^TestFault' ./jobs/workers ./cmd/internal/faults
	@$(GO) vet -tags faults ./jobs/workers ./cmd/internal/faults

vet: ## gofmt, go vet and staticcheck (pinned, from the Go module proxy); CI runs it before the suite
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@$(GO) vet ./...
	@$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

bench: build ## the benchmarks whose figures the README quotes
	@.ci/install-deps --browser
	@nomad=$$(.ci/build-nomad) && \
	  SPACES_NOMAD_BIN=$$nomad SPACES_STANDIN_BIN=$(BIN)/nextcloud-standin \
	  $(BIN)/testenv -- sh -c '$(GO) test -run "^$$" -bench BenchmarkProvision -benchtime 1x -timeout 20m ./jobs/workers && \
	    $(GO) test -run "^$$" -bench "BenchmarkReconcilePass|BenchmarkDriftRepair" -benchtime 5x -timeout 30m ./jobs/workers && \
	    $(GO) test -run "^$$" -bench BenchmarkUsageCollection -benchtime 3x -timeout 20m ./provisioner && \
	    $(GO) test -run "^$$" -bench BenchmarkSubmit -benchtime 3000x -timeout 20m ./webui && \
	    $(GO) test -run "^$$" -bench BenchmarkQueuePage -benchtime 200x -timeout 20m ./webui'

rush: build ## the rush: the public form offered 8x its benchmark rate for a minute (SPACES_RUSH_RATE, SPACES_RUSH_DURATION)
	@.ci/install-deps
	@nomad=$$(.ci/build-nomad) && \
	  SPACES_NOMAD_BIN=$$nomad SPACES_STANDIN_BIN=$(BIN)/nextcloud-standin \
	  $(BIN)/testenv -- $(GO) test -run '^$$' -bench BenchmarkRush -benchtime 1x -timeout 20m ./webui

clean-dev: ## delete make dev's data (.dev/)
	rm -rf .dev
