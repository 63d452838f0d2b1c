#!/usr/bin/env bash
# Runs everything locally in the foreground: the project's Redis and
# ClickHouse, partnersim, and the pipeline. Ctrl-C stops all of it (Redis and
# ClickHouse only if this script started them).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
infra=scripts/infra.sh
partner_addr=${PARTNER_ADDR:-127.0.0.1:8081}
admin_addr=${ADMIN_ADDR:-127.0.0.1:8090}

started_infra=0
before=$($infra status 2>&1)
case "$before" in
  *"redis running"*"clickhouse running"*) ;;
  *) started_infra=1 ;;
esac
$infra up
eval "$($infra env)"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "run: stopping" >&2
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ "$started_infra" = 1 ] && $infra down
  exit 0
}
trap cleanup INT TERM EXIT

mkdir -p .run
bin/partnersim --addr "$partner_addr" --latency 2ms --jitter 3ms --error-rate 0.02 >.run/partnersim.log 2>&1 &
pids+=($!)

export STREAMSYNC_REDIS__ADDR=$STREAMSYNC_TEST_REDIS_ADDR
export STREAMSYNC_CLICKHOUSE__ADDR=$STREAMSYNC_TEST_CLICKHOUSE_ADDR
export STREAMSYNC_ADMIN__ADDR=$admin_addr
export STREAMSYNC_INGEST__ADDR=${INGEST_ADDR:-127.0.0.1:8092}
export STREAMSYNC_CLICKHOUSE__SPOOL_DIR=$root/.run/spool
bin/streamsync run --config config/streamsync.example.yaml --sink.base_url "http://$partner_addr" &
pids+=($!)

# Report health once everything answers, within a deadline.
deadline=$((SECONDS + 30))
# http_ok HOST:PORT PATH: a GET answered 200 (bash only; no curl needed).
http_ok() {
  local hp=$1 path=$2
  (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}" &&
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hp" >&3 &&
    head -n 1 <&3 | grep -q ' 200 ') 2>/dev/null
}
check() { http_ok "$partner_addr" /healthz && http_ok "$admin_addr" /readyz; }
until check; do
  if [ $SECONDS -ge $deadline ]; then
    echo "run: not healthy after 30s: partnersim http://$partner_addr/healthz, streamsync http://$admin_addr/readyz" >&2
    exit 1
  fi
  sleep 0.2
done
echo "run: healthy — redis $STREAMSYNC_TEST_REDIS_ADDR, clickhouse $STREAMSYNC_TEST_CLICKHOUSE_ADDR, partnersim http://$partner_addr, streamsync admin http://$admin_addr (Ctrl-C stops all)" >&2
# The demo producer: a conference-registration story, out of order, with echoes and a few malformed entries.
bin/streamsync produce --rate "${DEMO_RATE:-50}" --events "${DEMO_EVENTS:-5000}" &
pids+=($!)
# Go-live order, in small (docs/backfill.md): the pipeline runs, then a full sync of a dump of our records.
demo_src=.run/demo-source.jsonl
for i in $(seq 1 200); do
  printf '{"entity":"attendee","key":"at-%d","account":"acc-%d","version":%d,"data":{"name":"guest %d"}}\n' "$i" $((i % 20)) "$i" "$i"
done >"$demo_src"
bin/streamsync backfill --config config/streamsync.example.yaml --source.kind file --source.file "$demo_src" --rate 50 --replay-dead >.run/backfill.log 2>&1 &
pids+=($!)
wait -n "${pids[@]:0:2}"
