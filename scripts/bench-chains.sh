#!/usr/bin/env bash
# Fills a scratch attempt log with N rows of realistic chains (default
# 10,000,000) and times the failed-chains questions over it
# (docs/benchmarks.md, "Failed chains over many rows"). Runs a ClickHouse of
# its own (data in .run/bench-chains/, port BENCH_CHAINS_PORT, 19411) so that
# the disk the rows take and the server's peak RSS are this load's alone;
# stops it at the end and removes the data unless KEEP=1. Not part of
# `make test`.
#
#   N=…                 rows to load
#   BENCH_CHAINS_FLAGS  more flags for loadtest/benchchains (-h lists them)
#   CLICKHOUSE_ADDR=…   use that ClickHouse instead (no disk or RSS figures)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
N=${N:-10000000}
port=${BENCH_CHAINS_PORT:-19411}
dir=$root/.run/bench-chains
db=bench_chains
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  [ "${KEEP:-0}" = 1 ] || [ -n "${CLICKHOUSE_ADDR:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
addr=${CLICKHOUSE_ADDR:-}
if [ -z "$addr" ]; then
  command -v clickhouse-server >/dev/null || scripts/infra.sh up clickhouse >/dev/null
  rm -rf "$dir"
  mkdir -p "$dir/data"
  cat >"$dir/config.xml" <<XML
<yandex>
    <logger><console>0</console><level>warning</level><log>$dir/clickhouse.log</log><errorlog>$dir/clickhouse.err.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$port</tcp_port>
    <http_port>$((port + 1))</http_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/data/tmp/</tmp_path>
    <mark_cache_size>1073741824</mark_cache_size>
    <users_config>users.xml</users_config>
</yandex>
XML
  # A query may take BENCH_CHAINS_MAX_MEMORY bytes (8 GB): over 100 M rows the
  # failed-chains question wants more than the machine can spare, and fails
  # with "Memory limit exceeded" instead of taking it.
  cat >"$dir/users.xml" <<XML
<yandex>
    <profiles><default><max_memory_usage>${BENCH_CHAINS_MAX_MEMORY:-8000000000}</max_memory_usage></default></profiles>
    <users><default><password/><networks><ip>127.0.0.1</ip></networks>
        <profile>default</profile><quota>default</quota></default></users>
    <quotas><default/></quotas>
</yandex>
XML
  clickhouse-server --config-file="$dir/config.xml" >"$dir/clickhouse.out" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    clickhouse-client --port "$port" --query 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/clickhouse.out" >&2; exit 1; }
    sleep 0.1
  done
  addr=127.0.0.1:$port
  echo "bench-chains: ClickHouse $(clickhouse-client --port "$port" --query 'SELECT version()') on $addr (pid $pid), data in $dir/data" >&2
fi
# shellcheck disable=SC2086
go run ./loadtest/benchchains -addr "$addr" -database "$db" -n "$N" ${BENCH_CHAINS_FLAGS:-}
if [ -n "$pid" ]; then
  echo
  echo "| resource | value |"
  echo "|---|---|"
  echo "| disk: du -sh of the scratch database's data ($dir/data/data/$db) | $(du -sh "$dir/data/data/$db" | cut -f1) |"
  echo "| disk: the whole server data dir | $(du -sh "$dir/data" | cut -f1) |"
  echo "| ClickHouse server peak RSS (VmHWM) | $(awk '/VmHWM/ {printf "%.2f GiB", $2 / 1048576}' "/proc/$pid/status") |"
  echo "| free disk left on the data dir's filesystem | $(df -h --output=avail "$dir" | tail -1 | tr -d ' ') |"
fi
