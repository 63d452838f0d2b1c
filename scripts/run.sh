#!/usr/bin/env bash
# Runs everything locally in the foreground: the project's Redis and
# ClickHouse, partnersim, the pipeline and a demo producer. Ctrl-C stops all
# of it (Redis and ClickHouse only if this script started them), also when
# the output is piped (`make run | tee log`): the script ignores SIGPIPE, every
# process writes to a log file under .run/, and what you see is a `tail` of
# those files. When the reader of the output goes away (`make run | head -1`),
# everything stops as on Ctrl-C.
#
# Two partners and two-way sync (docs/partners.md, "make run: several partners
# and two-way sync"): the partner of sink.* is partnersim's built-in API; the
# partner `crm` is partnersim's second API (docs/partnersim-crm.md) through the
# profile examples/partners/crm.yaml, routed the contacts, and two-way: it
# echoes every write back as a signed webhook, which streamsync delivers to
# our own system (ours.*), a third partnersim that also sends its own writes
# back to the ingest as events. Every DEMO_CHANGES_EVERY (20s) a user of the
# crm and a user of our system each change a few contacts.
#
# Ports: PARTNER_ADDR (127.0.0.1:8081), CRM_ADDR (127.0.0.1:8082), SOURCE_ADDR
# (127.0.0.1:8083, our system), ADMIN_ADDR (127.0.0.1:8090),
# INGEST_ADDR (127.0.0.1:8092), and Redis and ClickHouse as in scripts/infra.sh
# (STREAMSYNC_DEV_REDIS_PORT, STREAMSYNC_DEV_CLICKHOUSE_PORT,
# STREAMSYNC_DEV_CLICKHOUSE_HTTP_PORT). A port already taken stops start-up
# naming it; so does a second `make run` in the same checkout.
#
# The settings the pipeline uses are written to streamsync.yaml at the project
# root, where the CLI (`bin/streamsync status|dead|chains`) finds them.
set -euo pipefail
trap '' PIPE # a closed stdout must not kill the clean-up; writes then just fail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
infra=scripts/infra.sh
run=.run
partner_addr=${PARTNER_ADDR:-127.0.0.1:8081}
crm_addr=${CRM_ADDR:-127.0.0.1:8082}
admin_addr=${ADMIN_ADDR:-127.0.0.1:8090}
ingest_addr=${INGEST_ADDR:-127.0.0.1:8092}
source_addr=${SOURCE_ADDR:-127.0.0.1:8083}
redis_port=${STREAMSYNC_DEV_REDIS_PORT:-16379}
ch_port=${STREAMSYNC_DEV_CLICKHOUSE_PORT:-19000}
config_file=streamsync.yaml
config_marker='# Written by `make run`'
mkdir -p "$run"
if [ -n "${PARTNER_API:-}" ]; then
  printf 'run: PARTNER_API is no longer needed: the demo runs both partner APIs at once, the crm one on CRM_ADDR (%s)\n' "$crm_addr" 2>/dev/null || true
fi

# say MSG: to stdout and to .run/run.log; a closed stdout is not an error.
say() {
  printf 'run: %s\n' "$*" >>"$run/run.log" 2>/dev/null || true
  printf 'run: %s\n' "$*" 2>/dev/null || true
}
die() {
  printf 'run: error: %s\n' "$*" >&2 2>/dev/null || true
  exit 1
}

# The lock: one `make run` per checkout. noclobber makes the create atomic.
lock=$run/run.pid
take_lock() {
  (set -o noclobber; echo $$ >"$lock") 2>/dev/null
}
if ! take_lock; then
  other=$(cat "$lock" 2>/dev/null || true)
  if [ -n "$other" ] && [ "$(readlink "/proc/$other/cwd" 2>/dev/null)" = "$root" ] &&
    tr '\0' ' ' <"/proc/$other/cmdline" 2>/dev/null | grep -q 'run.sh'; then
    die "make run is already running in this checkout (pid $other, logs in $run/); stop it with Ctrl-C there first"
  fi
  rm -f "$lock" # left by a run that was killed
  take_lock || die "could not take $lock"
fi

# port_busy HOST:PORT: something accepts connections there.
port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
for p in "partnersim:PARTNER_ADDR:$partner_addr" "crm partnersim:CRM_ADDR:$crm_addr" "streamsync admin:ADMIN_ADDR:$admin_addr" "streamsync ingest:INGEST_ADDR:$ingest_addr" "our system's partnersim:SOURCE_ADDR:$source_addr"; do
  what=${p%%:*}; rest=${p#*:}; var=${rest%%:*}; addr=${rest#*:}
  if port_busy "$addr"; then
    rm -f "$lock"
    die "port $addr ($what) is already taken by another process; stop it, or choose another port with $var=127.0.0.1:PORT"
  fi
done
if [ -e "$config_file" ] && ! head -n 1 "$config_file" | grep -qF "$config_marker"; then
  rm -f "$lock"
  die "$config_file exists and was not written by make run, which would overwrite it; move it away (use your own settings with --config FILE)"
fi

# From here on this run owns the lock; the clean-up stops what it started.
pids=()
redis_before=0 ch_before=0 pg_before=0
status=$($infra status 2>&1 || true)
case "$status" in *"redis running"*) redis_before=1 ;; esac
case "$status" in *"clickhouse running"*) ch_before=1 ;; esac
case "$status" in *"postgres running"*) pg_before=1 ;; esac

stopping=0
cleanup() {
  local rc=$?
  [ "$stopping" = 1 ] && return
  stopping=1
  trap '' INT TERM HUP
  say "stopping"
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  local deadline=$((SECONDS + 30))
  for p in "${pids[@]}"; do
    while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      say "pid $p ignored SIGTERM for 30s; killing it"
      kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
  done
  [ "$ch_before" = 1 ] || $infra down clickhouse >>"$run/run.log" 2>&1 || true
  [ "$redis_before" = 1 ] || $infra down redis >>"$run/run.log" 2>&1 || true
  [ "$pg_before" = 1 ] || $infra down postgres >>"$run/run.log" 2>&1 || true
  rm -f "$lock"
  say "stopped (logs in $run/)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

: >"$run/run.log"
say "starting Redis (127.0.0.1:$redis_port), ClickHouse (127.0.0.1:$ch_port) and PostgreSQL; the first time this installs them"
$infra up >>"$run/run.log" 2>&1 || die "scripts/infra.sh up failed; see $run/run.log"
# A Redis or ClickHouse of another checkout (or another make run) on these
# ports would mix two runs' events in one consumer group: refuse, naming it.
if reused=$(grep -E 'reusing the (Redis|ClickHouse)' "$run/run.log" | sed -E 's/^infra: reusing the (Redis|ClickHouse) already answering on /\1 on /' | paste -sd ' ' -); then
  die "another checkout or run already serves these ports ($reused) and would share this run's streams: stop it there (make down), or choose other ports with STREAMSYNC_DEV_REDIS_PORT / STREAMSYNC_DEV_CLICKHOUSE_PORT / STREAMSYNC_DEV_CLICKHOUSE_HTTP_PORT"
fi
grep -F 'reusing' "$run/run.log" | sed 's/^infra: /run: /' || true
redis_addr=127.0.0.1:$redis_port
ch_addr=127.0.0.1:$ch_port
pg_dsn=$($infra env | sed -n 's/^export STREAMSYNC_TEST_POSTGRES_DSN=//p')

# The crm's secrets are this run's own: the HMAC secret of our calls to it in a file under .run/ (as a
# production secret would be), and the whsec_ secret that signs its webhooks to us.
crm_secret=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
webhook_secret=whsec_$(head -c 24 /dev/urandom | base64 | tr -d '\n')
umask 077
printf '%s\n' "$crm_secret" >"$run/crm-secret"
umask 022
sed "s|secret: env:CRM_APP_SECRET|secret: file:$root/$run/crm-secret|" examples/partners/crm.yaml >"$run/crm-profile.yaml"

# The settings of this run, for the pipeline and for the CLI next to it; readable by this user only (the
# crm's webhook secret is in it).
rm -f "$config_file"
umask 077
cat >"$config_file" <<YAML
$config_marker (scripts/run.sh) on $(date -u '+%Y-%m-%d %H:%M:%S UTC'): the settings that run uses.
# streamsync commands started in this directory read this file by themselves;
# from elsewhere: STREAMSYNC_CONFIG=$root/$config_file. make run rewrites it
# every time: keep your own settings in another file and pass --config FILE.
redis:
  addr: $redis_addr
clickhouse:
  addr: $ch_addr
  spool_dir: $root/$run/spool
# The partner of sink.* (named "partner"): partnersim's built-in API. It receives every event.
sink:
  base_url: http://$partner_addr
  client_id: streamsync
  client_secret: streamsync-secret
# A second partner, two-way (docs/partners.md): partnersim's crm API, which receives our contacts only and
# sends its own changes back as webhooks to http://$ingest_addr/v1/partners/crm/webhooks.
partners:
  crm:
    profile: $root/$run/crm-profile.yaml
    base_url: http://$crm_addr/crm
    route:
      entities: [contact]
    webhooks:
      secrets: [$webhook_secret]
    conflict:
      default: newest
# Our own write API, where the crm's changes are delivered: the partnersim that plays our system.
ours:
  base_url: http://$source_addr
  client_id: streamsync
  client_secret: streamsync-secret
admin:
  addr: $admin_addr
ingest:
  addr: $ingest_addr
# Reconciliation demo: the partnersim that plays our system is the source too, with the same 2,000 contacts as
# each partner; the partner of sink.* drifts now and then, and the scheduled reconciliation finds and repairs it
# (docs/reconcile.md).
source:
  kind: http
  base_url: http://$source_addr
  entities: [contact]
  client_id: streamsync
  client_secret: streamsync-secret
reconcile:
  every: ${RECONCILE_EVERY:-30s}
  repair: true
# The transactional outbox relay (docs/producers.md): rows inserted into streamsync_outbox are relayed.
outbox:
  dsn: $pg_dsn
YAML
umask 022
# The file is the truth for this run: addresses from the caller's environment
# would disagree with it.
unset STREAMSYNC_CONFIG STREAMSYNC_REDIS__ADDR STREAMSYNC_CLICKHOUSE__ADDR STREAMSYNC_CLICKHOUSE__SPOOL_DIR \
  STREAMSYNC_SINK__BASE_URL STREAMSYNC_SINK__PROFILE STREAMSYNC_SINK__CLIENT_ID STREAMSYNC_SINK__CLIENT_SECRET STREAMSYNC_ADMIN__ADDR STREAMSYNC_INGEST__ADDR
for v in $(compgen -e); do
  case "$v" in STREAMSYNC_PARTNERS__* | STREAMSYNC_OURS__*) unset "$v" ;; esac
done

: >"$run/partnersim.log"
: >"$run/crm.log"
: >"$run/source.log"
: >"$run/changes.log"
: >"$run/streamsync.log"
: >"$run/produce.log"
# What you see: the pipeline's and the producer's logs. If the reader of our
# output goes away, tail exits, and so does everything else.
tail -q -n +1 -F "$run/streamsync.log" "$run/produce.log" 2>>"$run/run.log" &
tail_pid=$!
pids+=("$tail_pid")
bin/partnersim --addr "$partner_addr" --latency 2ms --jitter 3ms --error-rate 0.02 --seed-entity contact --seed-count 2000 \
  --drift-every 45s --drift drop=2,alter=1,age=1 >"$run/partnersim.log" 2>&1 &
partner_pid=$!
pids+=("$partner_pid")
# The crm echoes every write it applies back to the ingest as a signed webhook (the secret from the
# environment, out of the process list).
PARTNERSIM_ECHO_SECRET=$webhook_secret bin/partnersim --addr "$crm_addr" --api crm --crm-auth hmac --crm-secret "$crm_secret" \
  --latency 2ms --jitter 3ms --seed-entity contact --seed-count 2000 \
  --echo-url "http://$ingest_addr/v1/partners/crm/webhooks" --echo-format webhook >"$run/crm.log" 2>&1 &
crm_pid=$!
pids+=("$crm_pid")
# Our system sends every write it applies back to the ingest as events, as a system that emits its changes does.
bin/partnersim --addr "$source_addr" --seed-entity contact --seed-count 2000 \
  --echo-url "http://$ingest_addr/v1/events" --echo-format events >"$run/source.log" 2>&1 &
source_pid=$!
pids+=("$source_pid")
bin/streamsync run --config "$config_file" >"$run/streamsync.log" 2>&1 &
streamsync_pid=$!
pids+=("$streamsync_pid")

# http_ok HOST:PORT PATH: a GET answered 200 (bash only; no curl needed).
http_ok() {
  local hp=$1 path=$2
  (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}" &&
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hp" >&3 &&
    head -n 1 <&3 | grep -q ' 200 ') 2>/dev/null
}
# http_post HOST:PORT PATH JSON: a POST answered 200.
http_post() {
  local hp=$1 path=$2 body=$3
  (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}" &&
    printf 'POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "$path" "$hp" "${#body}" "$body" >&3 &&
    head -n 1 <&3 | grep -q ' 200 ') 2>/dev/null
}
# Healthy once our own processes answer (the port checks above make sure the
# answers are theirs), within a deadline.
deadline=$((SECONDS + 30))
until http_ok "$partner_addr" /healthz && http_ok "$crm_addr" /healthz && http_ok "$source_addr" /healthz && http_ok "$admin_addr" /readyz; do
  kill -0 "$partner_pid" 2>/dev/null || die "partnersim stopped; last lines of $run/partnersim.log: $(tail -n 3 "$run/partnersim.log")"
  kill -0 "$crm_pid" 2>/dev/null || die "the crm partnersim stopped; last lines of $run/crm.log: $(tail -n 3 "$run/crm.log")"
  kill -0 "$source_pid" 2>/dev/null || die "our system's partnersim stopped; last lines of $run/source.log: $(tail -n 3 "$run/source.log")"
  kill -0 "$streamsync_pid" 2>/dev/null || die "streamsync stopped; see $run/streamsync.log"
  kill -0 "$tail_pid" 2>/dev/null || exit 0 # nobody reads our output any more
  [ $SECONDS -lt $deadline ] || die "not healthy after 30s: partnersims http://$partner_addr/healthz, http://$crm_addr/healthz and http://$source_addr/healthz, streamsync http://$admin_addr/readyz; see $run/"
  sleep 0.2
done
say "healthy — redis $redis_addr, clickhouse $ch_addr, partners: partnersim http://$partner_addr and crm http://$crm_addr/crm (two-way), our system http://$source_addr, streamsync admin http://$admin_addr (web page /), ingest http://$ingest_addr/v1/events; settings in $config_file, logs in $run/ (Ctrl-C stops all)"
# The demo producer: a conference-registration story, out of order, with echoes and a few malformed entries.
bin/streamsync produce --config "$config_file" --rate "${DEMO_RATE:-50}" --events "${DEMO_EVENTS:-5000}" >"$run/produce.log" 2>&1 &
pids+=($!)
# Go-live order, in small (docs/backfill.md): the pipeline runs, then a full sync of a dump of our records.
demo_src=$run/demo-source.jsonl
for i in $(seq 1 200); do
  printf '{"entity":"attendee","key":"at-%d","account":"acc-%d","version":%d,"data":{"name":"guest %d"}}\n' "$i" $((i % 20)) "$i" "$i"
done >"$demo_src"
bin/streamsync backfill --config "$config_file" --source.kind file --source.file "$demo_src" --entity attendee --rate 50 --replay-dead >"$run/backfill.log" 2>&1 &
pids+=($!)
# Two-way sync, in small: every DEMO_CHANGES_EVERY, a user of the crm changes 5 contacts and a user of our
# system 5 others (POST /_sim/changes, docs/partnersim.md). Each round takes the next 10 contacts, and the next
# make run carries on from the last round (.run/changes.round): both partnersims start afresh, and a contact
# changed again with the same version would be stale to what streamsync agreed on before. Each change reaches
# the other side once; its echo comes back and ends skipped_loop.
demo_changes() {
  local round n=5 ok nap= from_crm from_ours
  round=$(cat "$run/changes.round" 2>/dev/null || echo 0)
  case "$round" in '' | *[!0-9]*) round=0 ;; esac
  # stopped by the clean-up: its pause too, so that nothing outlives the run
  trap '[ -z "$nap" ] || kill "$nap" 2>/dev/null; exit 0' TERM
  while :; do
    ok=1 from_crm=$((round * 2 * n)) from_ours=$((round * 2 * n + n))
    http_post "$crm_addr" /_sim/changes "{\"entity\":\"contact\",\"count\":$n,\"start\":$from_crm,\"accounts\":10,\"seed\":$((round + 1))}" || ok=0
    http_post "$source_addr" /_sim/changes "{\"entity\":\"contact\",\"count\":$n,\"start\":$from_ours,\"accounts\":10,\"seed\":$((round + 1))}" || ok=0
    if [ "$ok" = 1 ]; then
      printf '%s round %d: %d contacts changed in the crm (from %09d), %d in our system (from %09d)\n' \
        "$(date -u +%H:%M:%S)" "$round" "$n" "$from_crm" "$n" "$from_ours"
    else
      printf '%s round %d: a change was refused; see crm.log and source.log\n' "$(date -u +%H:%M:%S)" "$round"
    fi
    round=$((round + 1))
    printf '%d\n' "$round" >"$run/changes.round"
    sleep "${DEMO_CHANGES_EVERY:-20}" &
    nap=$!
    wait "$nap"
  done
}
demo_changes >>"$run/changes.log" 2>&1 &
pids+=($!)
say "two-way: every ${DEMO_CHANGES_EVERY:-20}s 5 contacts change in the crm and 5 in our system ($run/changes.log); watch the summary lines of partner=crm direction=in and direction=out"
# Until the pipeline, a partnersim or the reader of our output stops.
set +e
wait -n "$tail_pid" "$partner_pid" "$crm_pid" "$source_pid" "$streamsync_pid"
sleep 0.5 # a Ctrl-C reaches every process at once: let its trap run before anything is called a crash
if ! kill -0 "$tail_pid" 2>/dev/null; then
  exit 0 # the reader of our output went away: stop everything, quietly
fi
kill -0 "$streamsync_pid" 2>/dev/null || say "streamsync stopped by itself; see $run/streamsync.log"
kill -0 "$partner_pid" 2>/dev/null || say "partnersim stopped by itself; see $run/partnersim.log"
kill -0 "$crm_pid" 2>/dev/null || say "the crm partnersim stopped by itself; see $run/crm.log"
kill -0 "$source_pid" 2>/dev/null || say "our system's partnersim stopped by itself; see $run/source.log"
exit 0
