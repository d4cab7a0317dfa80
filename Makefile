# Chat: build, test and run. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
DATA_DIR    ?= .data
BENCHTIME   ?= 1s
FUZZTIME    ?= 10s
SOAK_DURATION ?= 2m

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: run
run: ## Run the chat on http://localhost:3000 (embedded store under .data/; PORT=... to change).
	$(GO) run ./infra/emulator -data $(DATA_DIR)

.PHONY: run-dynamodb
run-dynamodb: ## Run the chat against DynamoDB Local (needs Java 17 and npm; fetched once).
	$(GO) run ./infra/emulator -store dynamodb

.PHONY: run-lambda
run-lambda: ## Run the chat with each function's real bootstrap under AWS's Lambda Runtime Interface Emulator, on DynamoDB Local (Linux, root, Java 17; PORT=...).
	$(GO) run ./infra/runlambda

.PHONY: test
test: vet staticcheck ## Vet, lint and run every test under the race detector (DynamoDB Local included).
	infra/testsummary.sh -race -count=1 -timeout 14m ./...
	@# A short fuzz of every parser of outside input; make fuzz runs longer.
	GO=$(GO) FUZZTIME=2s infra/fuzz.sh

.PHONY: fuzz
fuzz: ## Fuzz every Fuzz* target for FUZZTIME each (default 10s): make fuzz FUZZTIME=20s.
	GO=$(GO) FUZZTIME=$(FUZZTIME) infra/fuzz.sh

.PHONY: vet
vet: ## go vet, and gofmt: every Go file as gofmt writes it.
	$(GO) vet ./...
	@unformatted=$$("$$($(GO) env GOROOT)/bin/gofmt" -l .) || exit 1; \
	if [ -n "$$unformatted" ]; then echo "not gofmt'd (gofmt -w them):"; echo "$$unformatted"; exit 1; fi

.PHONY: staticcheck
staticcheck: ## staticcheck (honnef.co/go/tools).
	$(GO) run $(STATICCHECK) ./...

.PHONY: soak
soak: ## Hold 500 connections across 20 rooms for SOAK_DURATION (default 2m), then check nothing was lost, repeated or reordered.
	$(GO) run ./infra/soak -duration $(SOAK_DURATION)

.PHONY: bench
bench: ## Measure speed and cost into bench-results/: Go benchmarks, cold starts, load (both push modes), cost per message.
	GO=$(GO) BENCHTIME=$(BENCHTIME) infra/bench.sh

.PHONY: bench-cloud
bench-cloud: ## Simulate the cloud (3 instances of each function at 256 MB's CPU share, 20 ms a post, 10,000 posts/s) and measure rooms of 100, 1,000 and 10,000 (BENCH_CLOUD_ARGS=...; Linux, root).
	$(GO) run ./infra/benchcloud $(BENCH_CLOUD_ARGS)

.PHONY: smoke
smoke: ## Check a running chat end to end and say pass or fail: make smoke URL=https://<your web URL> (default http://localhost:3000).
	$(GO) run ./infra/smoke -url $(or $(URL),http://localhost:3000) -v

.PHONY: cost
cost: ## Measure requests, capacity and pushes per message by room size, priced per million (COST_ARGS=-json).
	$(GO) run ./infra/costmodel $(COST_ARGS)

# ---- Lambda builds. SAM's makefile build method runs `make build-<LogicalId>`
# with ARTIFACTS_DIR set; each writes a static linux/arm64 `bootstrap`.
LAMBDA_GOFLAGS := CGO_ENABLED=0 GOOS=linux GOARCH=arm64
LAMBDA_BUILD    = $(LAMBDA_GOFLAGS) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(ARTIFACTS_DIR)/bootstrap

# Without ARTIFACTS_DIR the binary would land in /bootstrap.
ifneq ($(filter build-%,$(MAKECMDGOALS)),)
ifeq ($(ARTIFACTS_DIR),)
$(error ARTIFACTS_DIR is not set: sam build sets it; by hand: make $(firstword $(MAKECMDGOALS)) ARTIFACTS_DIR=/tmp/out)
endif
endif

.PHONY: build-AuthFunction build-RoomsFunction build-ConnectFunction build-DisconnectFunction \
        build-JoinRoomFunction build-SendMessageFunction build-LeaveRoomFunction build-DefaultFunction \
        build-FanoutFunction
build-AuthFunction:        ; $(LAMBDA_BUILD) ./functions/auth
build-RoomsFunction:       ; $(LAMBDA_BUILD) ./functions/rooms
build-ConnectFunction:     ; $(LAMBDA_BUILD) ./functions/connect
build-DisconnectFunction:  ; $(LAMBDA_BUILD) ./functions/disconnect
build-JoinRoomFunction:    ; $(LAMBDA_BUILD) ./functions/join_room
build-SendMessageFunction: ; $(LAMBDA_BUILD) ./functions/send_message
build-LeaveRoomFunction:   ; $(LAMBDA_BUILD) ./functions/leave_room
build-DefaultFunction:     ; $(LAMBDA_BUILD) ./functions/default
build-FanoutFunction:      ; $(LAMBDA_BUILD) ./functions/fanout

.PHONY: deploy
deploy: ## Deploy to your AWS account with SAM and upload web/, never prompting (GUIDED=1 for sam deploy --guided; STACK=, REGION=).
	STACK=$(STACK) REGION=$(REGION) GUIDED=$(GUIDED) infra/deploy/deploy.sh

.PHONY: rebuild-verify
rebuild-verify: ## Replay every stream of the embedded store and report projections that differ.
	$(GO) run ./infra/rebuild -data $(DATA_DIR) -verify

.PHONY: rebuild-repair
rebuild-repair: ## Replay every stream of the embedded store and repair projections that differ.
	$(GO) run ./infra/rebuild -data $(DATA_DIR) -repair
