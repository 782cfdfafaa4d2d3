# Usual targets. The test command is the one in the README and .ci/run.
GO ?= go

.PHONY: all build test race vet fmt tidy dev bench fuzz ci clean

all: vet test build

build:
	$(GO) build -o bin/relay ./cmd/relay

test:
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "run: make fmt"; exit 1; }

fmt:
	gofmt -w .

tidy:
	$(GO) mod tidy

dev:
	$(GO) run ./cmd/relay dev

# Benchmarks from the README's Measurements section.
bench:
	$(GO) test -run '^$$' -bench AcceptLatency -benchtime 2000x ./relay/api/
	$(GO) test -run '^$$' -bench FanOut10k -benchtime 1x ./relay/node/
	$(GO) test -run '^$$' -bench ServeRSS -benchtime 1x ./cmd/relay/

# A short run of every fuzz target.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./config/
	$(GO) test -run '^$$' -fuzz FuzzPostMessage -fuzztime $(FUZZTIME) ./relay/api/
	$(GO) test -run '^$$' -fuzz FuzzParseCommand -fuzztime $(FUZZTIME) ./relay/
	$(GO) test -run '^$$' -fuzz FuzzParseIncoming -fuzztime $(FUZZTIME) ./channels/twilio/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./channels/email/inbound/
	$(GO) test -run '^$$' -fuzz FuzzStripQuoted -fuzztime $(FUZZTIME) ./channels/email/inbound/
	$(GO) test -run '^$$' -fuzz FuzzReplyParse -fuzztime $(FUZZTIME) ./channels/email/
	$(GO) test -run '^$$' -fuzz FuzzDecodePost -fuzztime $(FUZZTIME) ./channels/nats/
	$(GO) test -run '^$$' -fuzz FuzzDecodeAck -fuzztime $(FUZZTIME) ./channels/nats/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./relay/alertmanager/

ci:
	./.ci/run

clean:
	rm -rf bin
