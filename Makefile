# Ferry — every step a fresh machine needs is here (CI runs `make test` through .ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := help
STATE := .ferry
JEST := node_modules/.bin/jest
SERVICES_ENV := $(STATE)/services.env

.PHONY: help install build services-up services-down services-status test test-unit test-integration chaos demo bench lint clean

help:
	@echo "make demo           start local PostgreSQL x3, Kafka and an SQS server, and show sync between DCs"
	@echo "make test           install, build, start the services, run unit + integration tests"
	@echo "make test-unit      unit tests only (no services needed)"
	@echo "make chaos          the long fault run: 5 min of load, 30 kill -9, broker restart, SQS down 30 s"
	@echo "make services-up    start the local services; addresses go to $(SERVICES_ENV)"
	@echo "make services-down  stop them"
	@echo "make bench          run the benchmark suite (bench/suite.ts): bench/results.json + bench/RESULTS.md"
	@echo "make lint           eslint + type check"

# npm ci (exactly the committed lock, which it never rewrites) only when the lock changed since
# the last install
node_modules/.install-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.install-stamp

build: install
	npm run --silent build

services-up:
	bash infra/services.sh up

services-down:
	bash infra/services.sh down
	bash bench/native-pair.sh down

services-status:
	bash infra/services.sh status

test-unit: install
	$(JEST) --selectProjects unit

# Integration tests take the addresses services-up wrote; the jest global setup proves each
# service answers and fails the run (never skips) when one does not.
test-integration: build services-up
	set -a; source $(SERVICES_ENV); set +a; $(JEST) --selectProjects integration --runInBand

test: test-unit test-integration

# The fault suite at full length (make test runs it short): kill -9 of ferry run 30 times in 5 min of
# writes, the Kafka broker restarted, the SQS server not answering for 30 s, a PostgreSQL restarted.
chaos: build services-up
	set -a; source $(SERVICES_ENV); set +a; FERRY_CHAOS_MS=300000 FERRY_CHAOS_KILLS=30 FERRY_DOWN_S=30 $(JEST) --selectProjects integration --runInBand test/e2e/chaos.test.ts

demo: build services-up
	bash scripts/demo.sh

# The suite drives the built `ferry` command (dist/) and starts its own native replication pair
# (bench/native-pair.sh). BENCH_QUICK=1 checks the harness in a few minutes; BENCH_ONLY, BENCH_RUNS
# and the other knobs are in bench/lib/settings.ts.
bench: build services-up
	node_modules/.bin/tsc -p bench/tsconfig.json
	set -a; source $(SERVICES_ENV); set +a; node $(STATE)/build/bench/suite.js

lint: install
	node_modules/.bin/eslint .
	node_modules/.bin/tsc -p tsconfig.json --noEmit

clean:
	rm -rf dist
