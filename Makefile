# Every target bootstraps what it needs from a bare Python 3.11+: a .venv with the pinned packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
PACKAGES := libs/common services/registry services/gateway services/designation services/pillars services/audit services/cases services/feeds services/portal
STAMP := $(VENV)/.installed
# ariadne-codegen, the Python client generator docs/integration.md recommends, in a venv of its own: its caps on
# graphql-core and ruff conflict with the project's pins (tests/e2e/test_integration_guide.py runs it)
CODEGEN := $(VENV)/tools/codegen
CODEGEN_STAMP := $(CODEGEN)/.installed

.PHONY: run test test-unit lint format bench bench-registry bench-gateway bench-designation bench-pillars bench-audit bench-security bench-plans bench-cases bench-subscriptions bench-feeds bench-portal bench-node bench-scale cluster-rehearsal constraints clean-stack supergraph api-baseline asyncapi

$(STAMP): constraints.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt \
		-e 'libs/common[devstack]' $(addprefix -e ,$(filter-out libs/common,$(PACKAGES))) \
		pytest pytest-asyncio pytest-timeout playwright axe-playwright-python standardwebhooks kubernetes-validate jsonschema pyyaml mypy ruff types-pyyaml types-tqdm types-openpyxl
	@touch $@

$(CODEGEN_STAMP): tools/codegen/constraints.txt $(STAMP)
	@test -x $(CODEGEN)/bin/python || $(BIN)/uv venv --quiet --python $(BIN)/python $(CODEGEN)
	@$(BIN)/uv pip install --quiet --python $(CODEGEN)/bin/python -c tools/codegen/constraints.txt ariadne-codegen
	@touch $@

## make run: the whole system on embedded PostgreSQL and NATS, with demo data
run: $(STAMP)
	$(BIN)/demimas stack run

## make test: every test, against a real PostgreSQL and NATS started for the session
test: $(STAMP) $(CODEGEN_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest -m "not integration" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/common/src services/registry/src services/gateway/src services/designation/src services/pillars/src services/audit/src services/cases/src services/feeds/src services/portal/src bench

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: bench-registry bench-gateway bench-designation bench-pillars bench-audit bench-security bench-plans bench-cases bench-subscriptions bench-feeds bench-portal

bench-designation: $(STAMP)
	$(BIN)/python -m bench.designation

bench-audit: $(STAMP)
	$(BIN)/python -m bench.audit

bench-pillars: $(STAMP)
	$(BIN)/python -m bench.pillars

bench-registry: $(STAMP)
	$(BIN)/python -m bench.registry

## make bench-cases: 1,000,000 protection cases over every village; list p50/p95 over HTTP and the overdue sweep
## (BENCH_CASES=100000 for a quick run)
bench-cases: $(STAMP)
	$(BIN)/python -m bench.cases

## make bench-subscriptions: 1,000 WebSocket subscribers of workerChanged through the gateway while the registry
## commits 200 changes/s for 60 s (quick run: BENCH_SUBSCRIPTIONS_SECONDS=10 BENCH_SUBSCRIPTIONS_SUBSCRIBERS=100)
bench-subscriptions: $(STAMP)
	$(BIN)/python -m bench.subscriptions

## make bench-feeds: webhooks to 50 loopback receivers: deliveries/s of a 2,000-event backlog against a bare JetStream
## consume of the same events, and commit-to-receipt p95 at 20 changes/s (docs/benchmarks.md)
bench-feeds: $(STAMP)
	$(BIN)/python -m bench.feeds

## make bench-portal: the portal's /pilots (1,000 pilots), /pilots/{id} and /villages/{code} pages against the gateway
## queries each page makes, interleaved; p50/p95, the ratio and the portal's Server-Timing (docs/benchmarks.md)
bench-portal: $(STAMP)
	$(BIN)/python -m bench.portal

## make bench-node: the gateway benchmarks' Node packages (the scenario's subgraphs, Apollo Gateway and its query
## planner; benchmark only, never shipped), installed into bench/node/node_modules when missing or out of date
BENCH_NODE_MODULES := bench/node/node_modules/.package-lock.json
bench-node:
	@test $(BENCH_NODE_MODULES) -nt bench/node/package-lock.json -a $(BENCH_NODE_MODULES) -nt bench/node/package.json \
		|| npm ci --prefix bench/node --no-audit --no-fund

## make bench-security: the gateway benchmark query's p95 under 200 abusive requests/s, and the cost of authorization
## (Node and wrk, as bench-gateway)
bench-security: $(STAMP) bench-node
	$(BIN)/python -m bench.security

## make bench-scale: 10,000,000 workers and 15,000,000 family members over every village (BENCH_SCALE=0.01 for 1%)
bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale

## make cluster-rehearsal: three clustered NATS nodes, two replicas of everything, faults under a write load
cluster-rehearsal: $(STAMP)
	$(BIN)/python -m bench.cluster

## make bench-plans: our planner's fetch counts against Apollo's query planner (Node, benchmark only) for the gateway
## benchmark's query and, with BENCH_AUDIT_DIR=<a federation-gateway-audit checkout>, every audit case
bench-plans: $(STAMP) bench-node
	$(BIN)/python -m bench.plans

## make bench-gateway: our gateway against Apollo Gateway (benchmark only; Node 20+ and wrk on PATH) on the public
## federation gateway benchmark's scenario (bench/scenario.py)
bench-gateway: $(STAMP) bench-node
	$(BIN)/python -m bench.gateway

## make asyncapi: the event catalogue deploy/asyncapi.yaml (AsyncAPI 3.0), generated from the event JSON Schemas
asyncapi: $(STAMP)
	$(BIN)/demimas events asyncapi --out deploy/asyncapi.yaml

## make supergraph: print each subgraph's SDL (Python), compose them (Node, build time only), check the API schema
## for breaking changes not listed as accepted and, when there is none, refresh the baseline deploy/api-schema.graphql;
## then the event catalogue (make asyncapi)
COMPOSE_MODULES := deploy/compose/node_modules/.package-lock.json
supergraph: $(STAMP)
	$(BIN)/demimas sdl --out deploy/subgraphs
	@test $(COMPOSE_MODULES) -nt deploy/compose/package-lock.json -a $(COMPOSE_MODULES) -nt deploy/compose/package.json \
		|| npm ci --prefix deploy/compose --no-audit --no-fund
	node deploy/compose/compose.mjs deploy/subgraphs deploy/supergraph.graphql
	$(BIN)/demimas-gateway check-schema
	$(BIN)/demimas-gateway api-schema --supergraph deploy/supergraph.graphql > deploy/.api-schema.tmp \
		&& mv deploy/.api-schema.tmp deploy/api-schema.graphql || { rm -f deploy/.api-schema.tmp; exit 1; }
	$(BIN)/demimas events asyncapi --out deploy/asyncapi.yaml

## make api-baseline: accept the current API schema as the baseline for breaking-change checks
api-baseline: $(STAMP)
	$(BIN)/demimas-gateway api-schema --supergraph deploy/supergraph.graphql > deploy/api-schema.graphql

## make constraints: re-pin every dependency (exact versions, no download addresses), and the codegen tool's
constraints: $(STAMP)
	$(BIN)/uv pip compile --python-version 3.11 --no-header --no-annotate requirements.in -o constraints.txt
	$(BIN)/uv pip compile --python-version 3.11 --no-header --no-annotate tools/codegen/requirements.in \
		-o tools/codegen/constraints.txt

clean-stack:
	rm -rf .devstack
