# The two commands a newcomer needs: `make dev` (the whole system locally) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# One build cache outside the clone, shared by every checkout and run (the AWS SDK is heavy).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/cosmos/target
export CARGO_TERM_COLOR ?= never

.PHONY: help dev test tools fmt lint rust-test infra-test bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

tools: ## Install the local AWS stand-ins into .cosmos/ (idempotent)
	@bash scripts/tools.sh

dev: tools ## Start the whole system locally (Ctrl-C stops it)
	cargo run -p cosmos-local --bin cosmos-local

test: tools fmt lint rust-test infra-test ## Run every check and test

fmt: ## Check formatting
	cargo fmt --all --check

lint: ## Clippy, warnings are errors
	cargo clippy --workspace --all-targets --all-features -- -D warnings

rust-test: ## Unit, handler and end-to-end tests (starts a private moto server)
	scripts/with-moto.sh cargo test --workspace --all-features --no-fail-fast

infra-test: ## CDK app: type check, assertions, offline synth with cdk-nag, cfn-lint
	cd infra && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run synth && npm run lint

bench: tools ## Real-time latency on a fresh local stack (prints percentiles)
	cargo run -p integration-tests --bin bench-realtime
