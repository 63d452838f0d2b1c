#!/usr/bin/env bash
# Reconciles N records a side (default 1,000,000): one partnersim plays our
# source, one the partner, both seeded alike; the partner then drifts 1% of
# its records over every class. Prints wall time, records/s, peak RSS of
# `streamsync reconcile` and the classification time, then the same with
# --recent 1h over a day of attempt-log rows. Not part of `make test`.
#
#   PARTNER_API=crm   the partner is partnersim's crm API (docs/partnersim-crm.md)
#                     read through examples/partners/crm.yaml (HMAC-signed, offset
#                     paging, no versions), seeded alike; our side is a file
#                     source (SOURCE=file). No drift (/_sim/drift is the built-in
#                     API's); no --recent run unless RECENT=1.
#   SOURCE=file       our side is a JSON Lines file of the same records instead
#                     of a partnersim (written once into .run/).
#   STREAMSYNC_BIN=…  the streamsync binary to time (default bin/streamsync), so
#                     that two builds can be run side by side, interleaved.
#   INFRA_UP=0        use the Redis and ClickHouse already running
#                     (scripts/infra.sh env) instead of `infra.sh up`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
N=${N:-1000000}
ROWS_PER_DAY=${ROWS_PER_DAY:-1000000}
src=127.0.0.1:${BENCH_SOURCE_PORT:-18471}
part=127.0.0.1:${BENCH_PARTNER_PORT:-18472}
db=bench_reconcile
PARTNER_API=${PARTNER_API:-v1}
if [ "$PARTNER_API" = crm ]; then SOURCE=${SOURCE:-file}; RECENT=${RECENT:-0}; fi
SOURCE=${SOURCE:-http}
RECENT=${RECENT:-1}
[ "${INFRA_UP:-1}" = 0 ] || scripts/infra.sh up >/dev/null
eval "$(scripts/infra.sh env)"
mkdir -p .run
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
start=$SECONDS
srcfile=.run/bench-source-$N.jsonl
if [ "$SOURCE" = file ]; then
  # The records partnersim seeds (partnersim.SeedKey, SeedData, accounts
  # acc-<i mod 100>, version 2), one a line.
  [ -s "$srcfile" ] || awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "{\"entity\":\"reg\",\"key\":\"%09d\",\"account\":\"acc-%d\",\"version\":2,\"data\":{\"i\":%d,\"name\":\"record %d\"}}\n", i, i % 100, i, i }' >"$srcfile"
else
  bin/partnersim --addr "$src" --seed-entity reg --seed-count "$N" --seed-accounts 100 >.run/bench-source.log 2>&1 &
  pids+=($!)
fi
if [ "$PARTNER_API" = crm ]; then
  bin/partnersim --addr "$part" --api crm --crm-auth hmac --seed-entity reg --seed-count "$N" --seed-accounts 100 >.run/bench-partner.log 2>&1 &
else
  bin/partnersim --addr "$part" --seed-entity reg --seed-count "$N" --seed-accounts 100 >.run/bench-partner.log 2>&1 &
fi
pids+=($!)
until { [ "$SOURCE" = file ] || curl -sf "http://$src/healthz" >/dev/null; } && curl -sf "http://$part/healthz" >/dev/null; do sleep 0.5; done
echo "seeded $N records a side in $((SECONDS - start))s (partner API $PARTNER_API, our side: $SOURCE)" >&2
if [ "$PARTNER_API" != crm ]; then
  # 1% drift spread over the classes.
  d=$((N / 100))
  curl -sf -o /dev/null -X POST "http://$part/_sim/drift" -d "{\"entity\":\"reg\",\"drop\":$((d * 3 / 10)),\"alter\":$((d * 2 / 10)),\"age\":$((d * 2 / 10)),\"bump\":$((d / 10)),\"add\":$((d * 2 / 10))}"
fi

# Only the settings below: not the streamsync.yaml a `make run` left in the project root.
: >.run/bench-reconcile.yaml
export STREAMSYNC_CONFIG=$PWD/.run/bench-reconcile.yaml
export STREAMSYNC_REDIS__ADDR=$STREAMSYNC_TEST_REDIS_ADDR STREAMSYNC_CLICKHOUSE__ADDR=$STREAMSYNC_TEST_CLICKHOUSE_ADDR
export STREAMSYNC_CLICKHOUSE__DATABASE=$db STREAMSYNC_STREAM__EVENTS=bench-rc:events STREAMSYNC_STREAM__DEAD=bench-rc:dead
export STREAMSYNC_STREAM__DELAYED=bench-rc:delayed STREAMSYNC_STREAM__RETRY=bench-rc:retry
export STREAMSYNC_SINK__BASE_URL=http://$part STREAMSYNC_SINK__CLIENT_ID=streamsync STREAMSYNC_SINK__CLIENT_SECRET=streamsync-secret
if [ "$SOURCE" = file ]; then
  export STREAMSYNC_SOURCE__KIND=file STREAMSYNC_SOURCE__FILE=$srcfile
else
  export STREAMSYNC_SOURCE__KIND=http STREAMSYNC_SOURCE__BASE_URL=http://$src
  export STREAMSYNC_SOURCE__CLIENT_ID=streamsync STREAMSYNC_SOURCE__CLIENT_SECRET=streamsync-secret
fi
if [ "$PARTNER_API" = crm ]; then
  # partnersim's default crm secret (partnersim.DefaultCRMSecret)
  export STREAMSYNC_SINK__BASE_URL=http://$part/crm STREAMSYNC_SINK__PROFILE=examples/partners/crm.yaml CRM_APP_SECRET=${CRM_APP_SECRET:-streamsync-crm-secret}
  unset STREAMSYNC_SINK__CLIENT_ID STREAMSYNC_SINK__CLIENT_SECRET
fi

run() { # run LABEL ARGS…: time and peak RSS of one reconcile
  local label=$1
  shift
  /usr/bin/time -v -o .run/bench-time.txt "${STREAMSYNC_BIN:-bin/streamsync}" reconcile --entity reg --format json "$@" \
    >.run/bench-out.json 2>.run/bench-log.txt || true
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' .run/bench-time.txt | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' .run/bench-time.txt | awk '{print $NF}')
  echo "== $label: wall $wall, peak RSS $((rss / 1024)) MiB"
  grep -o 'msg="reconcile: [a-z ]*"[^"]*took=[^ ]*' .run/bench-log.txt || true
  cut -c1-400 .run/bench-out.json
}
run "full, $N a side"
[ "$RECENT" = 1 ] || exit 0

# A day of attempt-log rows (ROWS_PER_DAY delivered steps spread over 24h), then --recent 1h.
clickhouse-client --port "${STREAMSYNC_TEST_CLICKHOUSE_ADDR##*:}" --query "CREATE TABLE IF NOT EXISTS $db.attempts (ts DateTime('UTC'), ts_ms UInt16, event_id String, row_id String, stream_id String, account String, entity String, key String, parent_entity String, parent_key String, chain_id String, op String, version Int64, attempt UInt16, step String, http_status UInt16, latency_us UInt32, error String, instance String) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (account, chain_id, row_id)"
clickhouse-client --port "${STREAMSYNC_TEST_CLICKHOUSE_ADDR##*:}" --query "TRUNCATE TABLE $db.attempts"
clickhouse-client --port "${STREAMSYNC_TEST_CLICKHOUSE_ADDR##*:}" --query "INSERT INTO $db.attempts (ts, event_id, row_id, account, entity, key, step) SELECT now() - intDiv(number * 86400, $ROWS_PER_DAY), concat('e', toString(number)), concat('r', toString(number)), concat('acc-', toString(number % 100)), 'reg', substring(toString(1000000000 + number % $N), 2), 'delivered' FROM numbers($ROWS_PER_DAY)"
run "--recent 1h over $ROWS_PER_DAY attempt rows a day" --recent 1h
clickhouse-client --port "${STREAMSYNC_TEST_CLICKHOUSE_ADDR##*:}" --query "DROP DATABASE IF EXISTS $db"
