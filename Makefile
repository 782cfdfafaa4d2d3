# Usual targets; `make` alone lists them. The test command is the one in
# the README and .ci/run.
GO ?= go

.PHONY: help all build test race lint vet fmt tidy dev bench fuzz fuzz-list ci clean

help: ## List the targets, one line each.
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

all: lint test build ## lint, test and build.

build: ## Build bin/relay.
	$(GO) build -o bin/relay ./cmd/relay

test: ## Every test, as CI runs them: go test -race -count=1 -timeout 25m ./...
	$(GO) test -race -count=1 -timeout 25m ./...

# Tests under the race detector, several times over, to catch what shows
# once in a while: make race PKG=./relay/node RACECOUNT=20.
PKG ?= ./...
RACECOUNT ?= 5
race: ## The tests of PKG (./...) under the race detector, RACECOUNT (5) times.
	$(GO) test -race -count=$(RACECOUNT) $(PKG)

lint: vet ## go vet, gofmt and go mod tidy, changing nothing.
	$(GO) mod tidy -diff

vet: ## go vet and the gofmt check.
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "run: make fmt"; exit 1; }

fmt: ## Format every Go file.
	gofmt -w .

tidy: ## go mod tidy.
	$(GO) mod tidy

dev: ## A local three-node cluster with built-in sinks (relay dev).
	$(GO) run ./cmd/relay dev

bench: ## The benchmarks of the README's Measurements section.
	$(GO) test -run '^$$' -bench AcceptLatency -benchtime 2000x ./relay/api/
	$(GO) test -run '^$$' -bench FanOut10k -benchtime 5x ./relay/node/
	$(GO) test -run '^$$' -bench AcceptAcrossRegions -benchtime 3x ./relay/node/
	$(GO) test -run '^$$' -bench 'HistoryAtRest|CatchUpMillion' -benchtime 1x -timeout 30m ./relay/node/
	$(GO) test -run '^$$' -bench DeadDetection -benchtime 10x ./gossip/
	$(GO) test -run '^$$' -bench WANDetection -benchtime 3x ./gossip/
	$(GO) test -run '^$$' -bench 'ReplicationLag|AcceptWithPeerCopy|KillLoop' -benchtime 1x -timeout 30m ./cmd/relay/
	$(GO) test -run '^$$' -bench BenchmarkFailover -benchtime 10x -timeout 30m ./cmd/relay/
	$(GO) test -run '^$$' -bench ClusterLatency -benchtime 3x ./cmd/relay/
	$(GO) test -run '^$$' -bench ServeRSS -benchtime 1x ./cmd/relay/

# Every fuzz target in the repository, found in the test files, so that a
# new one runs without being listed here.
FUZZTIME ?= 30s
FUZZ_TARGETS = grep -r --include='*_test.go' --exclude-dir=testdata -o '^func Fuzz[A-Za-z0-9_]*' . | sed 's/:func / /' | sort

fuzz-list: ## List every fuzz target, with its file.
	@$(FUZZ_TARGETS)

fuzz: ## A short run (FUZZTIME, 30s) of every fuzz target.
	@set -e; $(FUZZ_TARGETS) | while read -r file target; do \
		echo "$(GO) test -run '^$$' -fuzz '^$$target$$' -fuzztime $(FUZZTIME) $$(dirname $$file)"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$(dirname $$file)" </dev/null; \
	done

ci: ## What CI runs: .ci/run.
	./.ci/run

clean: ## Remove bin/.
	rm -rf bin
