# streamsync — see README.md. `make run` runs everything; `make test` passes every test.
SHELL := /bin/bash
GO ?= go
# A count, not a duration: a duration-based -fuzztime can fail at its end with "context deadline exceeded"
# and no crasher on Go 1.26 (golang/go#75804, fixed in 1.27).
FUZZTIME ?= 200000x
INFRA := scripts/infra.sh
comma := ,
TEST_ENV = eval "$$($(INFRA) env)"

.PHONY: run test test-short fuzz up down status build lint bench loadtest loadtest-backlog loadtest-k6 clean bench-reconcile up-cluster down-cluster up-chcluster down-chcluster up-sentinel down-sentinel

run: build ## Redis, ClickHouse, partnersim and the pipeline in the foreground; Ctrl-C stops all
	scripts/run.sh

test: up up-cluster up-chcluster up-sentinel ## every test, against the project's own Redis and ClickHouse, race detector on, fuzzing briefly
	$(INFRA) up chromium
	@echo "make test: building every package with the race detector, then testing them; a line per package as it ends (several minutes on a cold cache)"
	$(TEST_ENV) && $(GO) test -race -count=1 -timeout 25m ./...
	@echo "make test: fuzzing the event parsers, $(FUZZTIME) inputs each"
	$(MAKE) --no-print-directory fuzz
	@echo "make test: passed. Redis and ClickHouse are left running for the next run:"; $(INFRA) status; echo "make down stops what this checkout started"

test-short: ## the tests that need no servers
	$(GO) test -short -count=1 ./...

fuzz: ## the event parsers under go test -fuzz, FUZZTIME (a count of inputs) each
	$(GO) test -run='^$$' -fuzz='^FuzzFromStream$$' -fuzztime=$(FUZZTIME) ./event
	$(GO) test -run='^$$' -fuzz='^FuzzFromJSON$$' -fuzztime=$(FUZZTIME) ./event
	$(GO) test -run='^$$' -fuzz='^FuzzCanonicalFastPath$$' -fuzztime=$(FUZZTIME) ./event

up: ## start the private Redis, ClickHouse and PostgreSQL (installs them when missing)
	$(INFRA) up

down: ## stop them
	$(INFRA) down

up-cluster: ## start the private three-master Redis Cluster on 17001-17003 (scale-out tests)
	$(INFRA) up cluster

down-cluster: ## stop it
	$(INFRA) down cluster

up-chcluster: ## start two more ClickHouse servers on 19020 and 19030, the two shards of the test cluster streamsync_test (clickhouse.cluster tests)
	$(INFRA) up chcluster

down-chcluster: ## stop them
	$(INFRA) down chcluster

up-sentinel: ## start a Redis primary and replica on 16400-16401 with three sentinels on 26400-26402 (failover tests)
	$(INFRA) up sentinel

down-sentinel: ## stop them
	$(INFRA) down sentinel

status:
	$(INFRA) status

build: ## bin/streamsync and bin/partnersim
	@echo "build: compiling bin/streamsync and bin/partnersim (a minute or more on a first build, seconds after)"
	$(GO) build -o bin/ ./cmd/...

bench: up ## drain 200,000 entries three ways, then the pipeline end to end against partnersim
	$(TEST_ENV) && $(GO) run ./loadtest/bench $(BENCH_FLAGS)

LEVELS ?= 10,100,1000,3000
DURATION ?= 20s
BATCH ?= 1
LOADTEST_FLAGS ?=
K6 := .bin/k6

loadtest: build up ## load levels 10 → 3,000 events/s (BATCH=N events per request); report in loadtest/results/<timestamp>/
	$(TEST_ENV) && $(GO) run ./loadtest/run --levels $(LEVELS) --duration $(DURATION) --batch $(BATCH) $(LOADTEST_FLAGS)

loadtest-backlog: build up ## drain a pre-filled backlog of 1,000,000 events, watching RSS
	$(TEST_ENV) && $(GO) run ./loadtest/run --backlog $${BACKLOG:-1000000} $(LOADTEST_FLAGS)

$(K6):
	GOBIN=$(CURDIR)/.bin $(GO) install go.k6.io/k6@v1.8.1

loadtest-k6: build up $(K6) ## the same levels offered by k6 (loadtest/k6/ingest.js)
	$(TEST_ENV) && $(GO) run ./loadtest/run --k6 $(K6) --levels $(LEVELS) --duration $(DURATION) $(LOADTEST_FLAGS)

bench-reconcile: build up ## reconcile 1,000,000 records a side (N=…), then --recent 1h; time and peak RSS
	scripts/bench-reconcile.sh

.PHONY: bench-backfill
bench-backfill: build up ## live traffic alone, then with a backfill of 1,000,000 records at --rate 0 (N=, RATE=, DURATION=)
	scripts/bench-backfill.sh

.PHONY: bench-cluster
BENCH_CLUSTER_FLAGS ?=
bench-cluster: up-cluster ## 1 → 3 streamsync processes and 1 → 12 shards on the Redis Cluster: events/s and CPU per event (BENCH_CLUSTER_FLAGS=-cluster.rows=…)
	$(TEST_ENV) && $(GO) test -tags measure -count=1 -timeout 60m -run '^TestMeasureClusterScale$$' -v ./cmd/streamsync $(BENCH_CLUSTER_FLAGS)

.PHONY: bench-wait
bench-wait: up-sentinel ## ingest latency with redis.wait_replicas 0 and 1 side by side, on the test Sentinel (docs/benchmarks.md)
	$(TEST_ENV) && $(GO) test -tags measure -count=1 -timeout 10m -run '^TestMeasureWaitReplicas$$' -v ./cmd/streamsync $(BENCH_WAIT_FLAGS)

.PHONY: bench-partners
BENCH_PARTNERS_FLAGS ?=
bench-partners: up ## two partners, 1,000 events/s on the ingest for 90 s, one partner down for 60 s: the other's latency and events/s beside runs with both up (BENCH_PARTNERS_FLAGS=-partners.runs=…)
	$(TEST_ENV) && $(GO) test -tags measure -count=1 -timeout 60m -run '^TestMeasurePartnerIsolation$$' -v ./cmd/streamsync $(BENCH_PARTNERS_FLAGS)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin

.PHONY: clean-data
clean-data: ## stop a make run and the servers this checkout started, then remove .run/ (their data and logs)
	@if [ -s .run/run.pid ] && kill -0 "$$(cat .run/run.pid)" 2>/dev/null; then \
		echo "clean-data: stopping make run (pid $$(cat .run/run.pid))"; kill -TERM "$$(cat .run/run.pid)"; \
		for i in $$(seq 300); do kill -0 "$$(cat .run/run.pid 2>/dev/null)" 2>/dev/null || break; sleep 0.1; done; \
	fi
	$(INFRA) down
	rm -rf .run
	@echo "clean-data: .run/ removed"

.PHONY: bench-chains
bench-chains: ## N rows (default 10,000,000) of chains in a scratch ClickHouse of its own, then the failed-chains questions timed beside a bare scan; load time, disk and the server's peak RSS (BENCH_CHAINS_FLAGS=…)
	N=$(or $(N),10000000) scripts/bench-chains.sh

.PHONY: chaos
CHAOS_FLAGS ?=
CHAOS_REDIS_PORT ?= 16420
CHAOS_SENTINEL_REDIS_PORTS ?= 16410,16411
CHAOS_SENTINEL_PORTS ?= 26410,26411,26412
CHAOS_CLUSTER_PORTS ?= 17101,17102,17103,17104,17105,17106
CHAOS_POSTGRES_PORT ?= 15440
KEEP ?=
chaos: ## the fault suite on servers of its own: Redis failovers, kill -9, SCRIPT FLUSH, Cluster failover and reshard, Cluster master kill -9, a black-holed partner, reset and slow connections (partner, Redis, ClickHouse, PostgreSQL), cut ClickHouse answers, a PostgreSQL restart, under load; prints the table, then stops its servers (docs/reliability.md, "The fault suite"; CHAOS_FLAGS=-only=…; KEEP=1 leaves them running)
	mkdir -p .run/chaos && $(GO) build -o .run/chaos/streamsync ./cmd/streamsync
	CHAOS_REDIS_PORT=$(CHAOS_REDIS_PORT) CHAOS_SENTINEL_REDIS_PORTS=$(CHAOS_SENTINEL_REDIS_PORTS) CHAOS_SENTINEL_PORTS=$(CHAOS_SENTINEL_PORTS) \
	CHAOS_CLUSTER_PORTS=$(CHAOS_CLUSTER_PORTS) CHAOS_POSTGRES_PORT=$(CHAOS_POSTGRES_PORT) KEEP=$(KEEP) \
	scripts/chaos.sh $(GO) run ./loadtest/chaos -aof-redis=127.0.0.1:$(CHAOS_REDIS_PORT) -postgres-port=$(CHAOS_POSTGRES_PORT) \
		-sentinel-redis=127.0.0.1:$(subst $(comma),$(comma)127.0.0.1:,$(CHAOS_SENTINEL_REDIS_PORTS)) \
		-sentinels=127.0.0.1:$(subst $(comma),$(comma)127.0.0.1:,$(CHAOS_SENTINEL_PORTS)) \
		-cluster=127.0.0.1:$(subst $(comma),$(comma)127.0.0.1:,$(CHAOS_CLUSTER_PORTS)) $(CHAOS_FLAGS)
