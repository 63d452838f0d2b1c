#!/usr/bin/env bash
# Full sync under live traffic: generates N records (default 1,000,000) as a
# JSON Lines dump (source.kind file), then two load runs of live traffic at
# RATE events/s (default 500) for DURATION (default 60s) on POST /v1/events
# against partnersim at 1 ms — one plain, one with
# `streamsync backfill --rate BACKFILL_RATE` (default 0, no limit) started
# 5 s into the level. Each run's
# report (loadtest/results/<timestamp>/report.md) gives the live traffic's
# end-to-end percentiles, and its notes the backfill's records/s appended,
# the drain into partnersim, Redis used_memory and the load average.
# Each run uses a key prefix and ClickHouse database of its own and deletes
# them afterwards. Not part of `make test`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
N=${N:-1000000}
RATE=${RATE:-500}
DURATION=${DURATION:-60s}
ACCOUNTS=${ACCOUNTS:-2000}
BACKFILL_RATE=${BACKFILL_RATE:-0} # the backfill's --rate; 0 is no limit
file=${FILE:-/tmp/streamsync-backfill-$N.jsonl}
scripts/infra.sh up >/dev/null
eval "$(scripts/infra.sh env)"
if [ ! -s "$file" ]; then
  # One upsert-able record a line; accounts and entity apart from the live story's.
  awk -v n="$N" -v a="$ACCOUNTS" 'BEGIN {
    for (i = 0; i < n; i++)
      printf "{\"entity\":\"member\",\"key\":\"k-%d\",\"account\":\"bf-acc-%d\",\"version\":1,\"data\":{\"name\":\"Member %d\",\"email\":\"m%d@example.com\",\"plan\":\"standard\",\"seats\":%d}}\n", i, i % a, i, i, i % 7 + 1
  }' >"$file.tmp"
  mv "$file.tmp" "$file"
  echo "wrote $N records to $file" >&2
fi
if [ "${SKIP_BASELINE:-}" = "" ]; then
  echo "== live traffic alone: $RATE/s for $DURATION" >&2
  go run ./loadtest/run --levels "$RATE" --duration "$DURATION" --drain-timeout 10m
fi
echo "== live traffic with a backfill of $N records (--rate $BACKFILL_RATE)" >&2
go run ./loadtest/run --levels "$RATE" --duration "$DURATION" --drain-timeout 60m --backfill "$file" --backfill-rate "$BACKFILL_RATE"
