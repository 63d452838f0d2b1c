#!/usr/bin/env bash
# Runs the fault suite (`make chaos`, docs/reliability.md "The fault suite") on servers of its own, then
# stops them.
#
#   scripts/chaos.sh CMD...    start the suite's servers (scripts/infra.sh up), run CMD (the suite), then stop
#                              them and remove the suite's attempt-log spools (.run/chaos/spool-*); exits with CMD's status
#
# The servers: a Redis with AOF on CHAOS_REDIS_PORT (16420), a Sentinel (its Redis on CHAOS_SENTINEL_REDIS_PORTS,
# 16410,16411; sentinels on CHAOS_SENTINEL_PORTS, 26410,26411,26412), a Redis Cluster of three masters with a
# replica each on CHAOS_CLUSTER_PORTS (17101–17106), a PostgreSQL on CHAOS_POSTGRES_PORT (15440), and the
# ClickHouse of `make up` (19000; the suite keeps to databases of its own, dropped after each fault).
# CHAOS_SERVERS (redis sentinel cluster postgres clickhouse) says which to start.
#
# At the end, on failure and on SIGINT/SIGTERM, the script stops what this checkout runs on the suite's own
# ports (scripts/infra.sh down: only processes whose pid file is this checkout's; a server of another checkout
# that the suite reused is left alone) and the ClickHouse only when it was not answering before the suite.
# KEEP=1 leaves every server and spool as it is, to look at them; stop them later with
# `scripts/infra.sh down …` and the same STREAMSYNC_DEV_* ports (the lines it prints say how). The logs of each
# fault's streamsync stay in .run/chaos/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
infra="$root/scripts/infra.sh"
redis_port=${CHAOS_REDIS_PORT:-16420}
sentinel_redis_ports=${CHAOS_SENTINEL_REDIS_PORTS:-16410,16411}
sentinel_ports=${CHAOS_SENTINEL_PORTS:-26410,26411,26412}
cluster_ports=${CHAOS_CLUSTER_PORTS:-17101,17102,17103,17104,17105,17106}
postgres_port=${CHAOS_POSTGRES_PORT:-15440}
ch_port=${STREAMSYNC_DEV_CLICKHOUSE_PORT:-19000}
servers=${CHAOS_SERVERS:-redis sentinel cluster postgres clickhouse}

say() { printf 'chaos: %s\n' "$*" >&2; }
[ $# -gt 0 ] || { say "usage: $0 CMD..."; exit 2; }

# infra SERVER ACTION: scripts/infra.sh ACTION SERVER on the suite's ports.
infra() {
  case $1 in
    redis) STREAMSYNC_DEV_REDIS_PORT=$redis_port "$infra" "$2" redis ;;
    sentinel) STREAMSYNC_DEV_SENTINEL_REDIS_PORTS=$sentinel_redis_ports STREAMSYNC_DEV_SENTINEL_PORTS=$sentinel_ports "$infra" "$2" sentinel ;;
    cluster) STREAMSYNC_DEV_CLUSTER_PORTS=$cluster_ports STREAMSYNC_DEV_CLUSTER_REPLICAS=1 "$infra" "$2" cluster ;;
    postgres) STREAMSYNC_DEV_POSTGRES_PORT=$postgres_port "$infra" "$2" postgres ;;
    clickhouse) "$infra" "$2" clickhouse ;;
    *) say "unknown server $1 in CHAOS_SERVERS"; return 1 ;;
  esac
}

# downs: the servers to stop at the end, as `infra SERVER down` arguments.
downs=()
keep_ch=0 # the ClickHouse answered before the suite: it is `make up`'s, shared, and stays
(exec 3<>"/dev/tcp/127.0.0.1/$ch_port") 2>/dev/null && keep_ch=1

cleanup() {
  local status=$? s
  trap - EXIT INT TERM
  if [ "${KEEP:-}" = 1 ]; then
    say "KEEP=1: the suite's servers and spools are left as they are; stop the servers with:"
    for s in "${downs[@]}"; do
      case $s in
        redis) say "  STREAMSYNC_DEV_REDIS_PORT=$redis_port scripts/infra.sh down redis" ;;
        sentinel) say "  STREAMSYNC_DEV_SENTINEL_REDIS_PORTS=$sentinel_redis_ports STREAMSYNC_DEV_SENTINEL_PORTS=$sentinel_ports scripts/infra.sh down sentinel" ;;
        cluster) say "  STREAMSYNC_DEV_CLUSTER_PORTS=$cluster_ports scripts/infra.sh down cluster" ;;
        postgres) say "  STREAMSYNC_DEV_POSTGRES_PORT=$postgres_port scripts/infra.sh down postgres" ;;
        clickhouse) say "  scripts/infra.sh down clickhouse" ;;
      esac
    done
    exit "$status"
  fi
  for s in "${downs[@]}"; do
    infra "$s" down || say "stopping $s failed"
  done
  rm -rf "$root"/.run/chaos/spool-*
  say "servers stopped, spools removed (KEEP=1 keeps them)"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for s in $servers; do
  if [ "$s" != clickhouse ] || [ "$keep_ch" = 0 ]; then
    downs+=("$s") # stopped even when up fails half-way
  fi
  infra "$s" up
done
mkdir -p "$root/.run/chaos"
"$@"
