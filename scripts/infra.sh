#!/usr/bin/env bash
# Starts and stops the project's own Redis and ClickHouse on private loopback
# ports, with their data under .run/ at the project root.
#
#   scripts/infra.sh up [redis|clickhouse|postgres|cluster|chcluster|sentinel]   start (installs Debian packages when missing); idempotent
#   scripts/infra.sh down [redis|clickhouse|postgres|cluster|chcluster|sentinel]   stop exactly the processes this script started
#   scripts/infra.sh status                    say what answers on each port, and whether it is this checkout's (its pid file)
#   scripts/infra.sh env                       print the export lines tests, the demo and the CLI read
#
# Ports: STREAMSYNC_DEV_REDIS_PORT (16379), STREAMSYNC_DEV_CLICKHOUSE_PORT (19000),
# STREAMSYNC_DEV_CLICKHOUSE_HTTP_PORT (18123), STREAMSYNC_DEV_POSTGRES_PORT (15432). Readiness deadline: STREAMSYNC_DEV_WAIT (60 s).
# The Redis Cluster (`up cluster`, not part of `up`): three masters on STREAMSYNC_DEV_CLUSTER_PORTS
# (17001,17002,17003), data in .run/cluster/PORT; STREAMSYNC_DEV_CLUSTER_REPLICAS (0) replicas per master
# (then list masters × (1 + replicas) ports).
# A ClickHouse on another port is a second instance with its data in .run/clickhouse-PORT (tests that
# stop and start ClickHouse use one of their own).
# The ClickHouse cluster (`up chcluster`, not part of `up`): two more ClickHouse servers on
# STREAMSYNC_DEV_CH_CLUSTER_PORTS (19020,19030; HTTP on PORT+1), data in .run/chcluster/PORT, each with a
# remote_servers naming both as the two unreplicated shards of the cluster `streamsync_test` (no ZooKeeper);
# the attempt log's clickhouse.cluster tests shard over it. The ClickHouse on 19000 is left as it is.
# Redis Sentinel (`up sentinel`, not part of `up`): a primary and one replica on STREAMSYNC_DEV_SENTINEL_REDIS_PORTS
# (16400,16401) and three sentinels on STREAMSYNC_DEV_SENTINEL_PORTS (26400,26401,26402) watching the master
# streamsync-test (quorum 2, down after 1 s), data in .run/sentinel/PORT. Tests fail it over (SENTINEL
# FAILOVER), so either server may be the primary; ask a sentinel which.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run="$root/.run"
redis_port=${STREAMSYNC_DEV_REDIS_PORT:-16379}
# The default Redis lives in .run/redis, one on another port in .run/redis-PORT (the fault suite kills its own).
redis_dir="$run/redis"
[ "$redis_port" = 16379 ] || redis_dir="$run/redis-$redis_port"
ch_port=${STREAMSYNC_DEV_CLICKHOUSE_PORT:-19000}
ch_http_port=${STREAMSYNC_DEV_CLICKHOUSE_HTTP_PORT:-18123}
wait_s=${STREAMSYNC_DEV_WAIT:-60}
pg_port=${STREAMSYNC_DEV_POSTGRES_PORT:-15432}
cluster_ports=${STREAMSYNC_DEV_CLUSTER_PORTS:-17001,17002,17003}
cluster_replicas=${STREAMSYNC_DEV_CLUSTER_REPLICAS:-0}  # replicas per master (the fault suite's cluster has 1: six ports)
chcluster_ports=${STREAMSYNC_DEV_CH_CLUSTER_PORTS:-19020,19030}
chcluster_name=streamsync_test
sentinel_redis_ports=${STREAMSYNC_DEV_SENTINEL_REDIS_PORTS:-16400,16401}
sentinel_ports=${STREAMSYNC_DEV_SENTINEL_PORTS:-26400,26401,26402}
sentinel_master=streamsync-test
export PATH="$PATH:/usr/sbin:/sbin"

say() { printf 'infra: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# alive PIDFILE NAME: the PID in PIDFILE runs a process whose command line has NAME.
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$2"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ensure BINARY PACKAGE...: install the Debian packages when BINARY is missing.
ensure() {
  local bin=$1; shift
  command -v "$bin" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$bin is missing and apt-get is not here; install $* yourself, or point STREAMSYNC_TEST_* at your own servers"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing $* (apt-get)"
  if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$run/apt.log" 2>&1; then
    $sudo apt-get update -q >>"$run/apt.log" 2>&1 || true
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$run/apt.log" 2>&1 ||
      die "apt-get install $* failed; see $run/apt.log"
  fi
  command -v "$bin" >/dev/null 2>&1 || die "$bin still missing after installing $*"
}

# wait_for WHAT LOG CMD...: run CMD until it succeeds or the deadline passes.
wait_for() {
  local what=$1 log=$2; shift 2
  local deadline=$((SECONDS + wait_s))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      say "$what not ready after ${wait_s}s; last lines of $log:"
      tail -n 20 "$log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
}

redis_up() {
  local dir="$redis_dir"
  mkdir -p "$dir"
  if alive "$dir/redis.pid" redis-server; then
    say "redis already running on 127.0.0.1:$redis_port (pid $(cat "$dir/redis.pid"))"
    return 0
  fi
  ensure redis-server redis-server
  if port_busy "$redis_port"; then
    # Another checkout's private Redis (tests keep to keys of their own): use it.
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG ||
      die "port $redis_port is taken by something that is not Redis; set STREAMSYNC_DEV_REDIS_PORT"
    say "reusing the Redis already answering on 127.0.0.1:$redis_port"
    return 0
  fi
  rm -f "$dir/redis.pid"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --save "" \
    --appendonly yes --appendfsync everysec --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" ||
    die "redis-server did not start; see $dir/redis.log"
  wait_for redis "$dir/redis.log" sh -c "redis-cli -p $redis_port ping | grep -q PONG" || die "redis did not answer PING"
  say "redis ready on 127.0.0.1:$redis_port (pid $(cat "$dir/redis.pid"))"
}

# ch_users_xml DIR writes a test ClickHouse's users.xml: the default user,
# no password, from 127.0.0.1 only.
ch_users_xml() {
  cat >"$1/users.xml" <<'XML'
<yandex>
    <profiles><default/></profiles>
    <users><default><password/><networks><ip>127.0.0.1</ip></networks>
        <profile>default</profile><quota>default</quota></default></users>
    <quotas><default/></quotas>
</yandex>
XML
}

# ch_dir: the default instance lives in .run/clickhouse, another port's in .run/clickhouse-PORT.
ch_dir="$run/clickhouse"
[ "$ch_port" = 19000 ] || ch_dir="$run/clickhouse-$ch_port"

clickhouse_up() {
  local dir="$ch_dir"
  mkdir -p "$dir/data" "$dir/tmp"
  if alive "$dir/clickhouse.pid" clickhouse; then
    say "clickhouse already running on 127.0.0.1:$ch_port (pid $(cat "$dir/clickhouse.pid"))"
    return 0
  fi
  ensure clickhouse-server clickhouse-server clickhouse-client
  ensure clickhouse-client clickhouse-client
  if port_busy "$ch_port"; then
    # Another checkout's private ClickHouse (tests keep to databases of their own): use it.
    clickhouse-client --port "$ch_port" --query "SELECT 1" >/dev/null 2>&1 ||
      die "port $ch_port is taken by something that is not ClickHouse; set STREAMSYNC_DEV_CLICKHOUSE_PORT"
    say "reusing the ClickHouse already answering on 127.0.0.1:$ch_port"
    return 0
  fi
  cat >"$dir/config.xml" <<XML
<yandex>
    <logger><console>0</console><level>warning</level><log>$dir/clickhouse.log</log><errorlog>$dir/clickhouse.err.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$ch_port</tcp_port>
    <http_port>$ch_http_port</http_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <users_config>users.xml</users_config>
</yandex>
XML
  ch_users_xml "$dir"
  rm -f "$dir/clickhouse.pid"
  clickhouse-server --config-file="$dir/config.xml" --daemon --pid-file="$dir/clickhouse.pid" >>"$dir/clickhouse.out" 2>&1 ||
    die "clickhouse-server did not start; see $dir/clickhouse.out and $dir/clickhouse.err.log"
  wait_for clickhouse "$dir/clickhouse.err.log" clickhouse-client --port "$ch_port" --query "SELECT 1" ||
    die "clickhouse did not answer SELECT 1"
  say "clickhouse ready on 127.0.0.1:$ch_port (pid $(cat "$dir/clickhouse.pid"))"
}

# PostgreSQL (the outbox relay's tests and demo): Debian's postgresql package, a private cluster in
# .run/postgres (or .run/postgres-PORT) on 127.0.0.1:$pg_port, trust auth for user postgres on loopback.
# PostgreSQL refuses to run as root, so as root the cluster belongs to, and runs as, the postgres OS user.
pg_dir="$run/postgres"
[ "$pg_port" = 15432 ] || pg_dir="$run/postgres-$pg_port"
# As root the cluster runs as the postgres user, which must reach its directory; a checkout it cannot reach
# (under a 0700 home, say) keeps the cluster in a directory of its own under /tmp instead, named after the
# checkout and the port so that down finds it again.
if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$run" 2>/dev/null; then
  pg_dir="/tmp/streamsync-postgres-$(printf '%s' "$root" | cksum | cut -d' ' -f1)-$pg_port"
fi

# pg_bin: the directory of initdb/pg_ctl (Debian keeps them off PATH, in /usr/lib/postgresql/N/bin).
pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
  return 1
}

# as_pg CMD...: run CMD as the cluster's owner (postgres when we are root, else ourselves).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_ready() { as_pg "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -U postgres; }

postgres_up() {
  mkdir -p "$pg_dir"
  if alive "$pg_dir/postgres.pid" postgres; then
    say "postgres already running on 127.0.0.1:$pg_port (pid $(cat "$pg_dir/postgres.pid"))"
    return 0
  fi
  if ! pg_bin >/dev/null; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is missing and apt-get is not here; install it yourself, or point STREAMSYNC_TEST_POSTGRES_DSN at your own server"
    say "installing postgresql (apt-get)"
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >"$run/apt.log" 2>&1; then
      $sudo apt-get update -q >>"$run/apt.log" 2>&1 || true
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >>"$run/apt.log" 2>&1 ||
        die "apt-get install postgresql failed; see $run/apt.log"
    fi
    # The package starts a cluster of its own on 5432; ours is separate and needs nothing of it.
  fi
  local bin
  bin=$(pg_bin) || die "pg_ctl still missing after installing postgresql"
  if port_busy "$pg_port"; then
    pg_ready || die "port $pg_port is taken by something that is not PostgreSQL; set STREAMSYNC_DEV_POSTGRES_PORT"
    say "reusing the PostgreSQL already answering on 127.0.0.1:$pg_port"
    return 0
  fi
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "no postgres OS user to run PostgreSQL as (it refuses root)"
    chown postgres: "$pg_dir"
  fi
  if [ ! -s "$pg_dir/data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$pg_dir/initdb.log" 2>&1 ||
      die "initdb failed; see $pg_dir/initdb.log"
  fi
  rm -f "$pg_dir/postgres.pid"
  as_pg "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -s -w -t "$wait_s" \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pg_dir -c fsync=off -c max_connections=200" start ||
    die "postgres did not start; see $pg_dir/postgres.log"
  wait_for postgres "$pg_dir/postgres.log" pg_ready || die "postgres did not answer pg_isready"
  head -n 1 "$pg_dir/data/postmaster.pid" >"$pg_dir/postgres.pid"
  say "postgres ready on 127.0.0.1:$pg_port (pid $(cat "$pg_dir/postgres.pid"))"
}

# stop PIDFILE NAME [SIGNAL]: SIGTERM (or SIGNAL) the process we started, SIGKILL it after the deadline.
stop() {
  local pidfile=$1 name=$2 sig=${3:-TERM}
  if ! alive "$pidfile" "$name"; then
    rm -f "$pidfile"
    say "$name not running"
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  kill -"$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) ignored SIGTERM for 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  say "$name stopped (pid $pid)"
}

# cluster_up: three redis-server masters in cluster mode, joined with
# `redis-cli --cluster create` once every slot is unassigned.
cluster_up() {
  local dir="$run/cluster" port ports addrs=()
  IFS=, read -r -a ports <<<"$cluster_ports"
  ensure redis-server redis-server
  ensure redis-cli redis-tools
  if ! cluster_any_running && cluster_answers; then
    # Another checkout's private Cluster (tests keep to keys of their own): use it. One of ours
    # answering with a node down (the fault suite kills one) is not reused: the dead node is started again.
    say "reusing the redis cluster already answering on ${cluster_ports}"
    return 0
  fi
  for port in "${ports[@]}"; do
    mkdir -p "$dir/$port"
    addrs+=("127.0.0.1:$port")
    if alive "$dir/$port/redis.pid" redis-server; then
      continue
    fi
    port_busy "$port" && die "port $port is taken; set STREAMSYNC_DEV_CLUSTER_PORTS"
    rm -f "$dir/$port/redis.pid"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/$port" --save "" --appendonly no \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --daemonize yes --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" ||
      die "redis-server on $port did not start; see $dir/$port/redis.log"
    wait_for "cluster node $port" "$dir/$port/redis.log" sh -c "redis-cli -p $port ping | grep -q PONG" ||
      die "cluster node $port did not answer PING"
  done
  if ! redis-cli -p "${ports[0]}" cluster info | grep -q 'cluster_state:ok'; then
    if redis-cli -p "${ports[0]}" cluster info | grep -q 'cluster_slots_assigned:0'; then
      redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$cluster_replicas" --cluster-yes >"$dir/create.log" 2>&1 ||
        die "redis-cli --cluster create failed; see $dir/create.log"
    fi
    wait_for "redis cluster" "$dir/create.log" sh -c "redis-cli -p ${ports[0]} cluster info | grep -q cluster_state:ok" ||
      die "the cluster on ${cluster_ports} is not ok; try scripts/infra.sh down cluster and rm -rf $dir"
  fi
  say "redis cluster ready on ${addrs[*]}"
}

cluster_down() {
  local port ports
  IFS=, read -r -a ports <<<"$cluster_ports"
  for port in "${ports[@]}"; do
    stop "$run/cluster/$port/redis.pid" redis-server
  done
}

# cluster_answers: the first node answers as a Cluster whose every slot is served.
cluster_answers() {
  local first=${cluster_ports%%,*}
  redis-cli -p "$first" cluster info 2>/dev/null | grep -q 'cluster_state:ok'
}

# cluster_any_running: a node of the cluster this script started is alive.
cluster_any_running() {
  local port ports
  IFS=, read -r -a ports <<<"$cluster_ports"
  for port in "${ports[@]}"; do
    alive "$run/cluster/$port/redis.pid" redis-server && return 0
  done
  return 1
}

# cluster_running: every node of the cluster this script started is alive.
cluster_running() {
  local port ports
  IFS=, read -r -a ports <<<"$cluster_ports"
  for port in "${ports[@]}"; do
    alive "$run/cluster/$port/redis.pid" redis-server || return 1
  done
}

# chcluster_up: the two ClickHouse servers of the test cluster, each told of both (remote_servers).
# Several test packages may ask at once: one at a time under a lock.
chcluster_up() {
  local dir="$run/chcluster" port ports shards=""
  IFS=, read -r -a ports <<<"$chcluster_ports"
  mkdir -p "$dir"
  exec 8>"$dir/lock"
  flock -w "$wait_s" 8 || die "another infra.sh holds $dir/lock"
  ensure clickhouse-server clickhouse-server clickhouse-client
  ensure clickhouse-client clickhouse-client
  for port in "${ports[@]}"; do
    shards+="<shard><replica><host>127.0.0.1</host><port>$port</port></replica></shard>"
  done
  for port in "${ports[@]}"; do
    local d="$dir/$port"
    mkdir -p "$d/data" "$d/tmp"
    if alive "$d/clickhouse.pid" clickhouse; then
      continue
    fi
    if port_busy "$port"; then
      # Another checkout's test cluster (tests keep to databases of their own): use it.
      [ "$(clickhouse-client --port "$port" --query "SELECT count() FROM system.clusters WHERE cluster = '$chcluster_name'" 2>/dev/null)" = "${#ports[@]}" ] ||
        die "port $port is taken by something that is not a ClickHouse of the cluster $chcluster_name; set STREAMSYNC_DEV_CH_CLUSTER_PORTS"
      continue
    fi
    cat >"$d/config.xml" <<XML
<yandex>
    <logger><console>0</console><level>warning</level><log>$d/clickhouse.log</log><errorlog>$d/clickhouse.err.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$port</tcp_port>
    <http_port>$((port + 1))</http_port>
    <path>$d/data/</path>
    <tmp_path>$d/tmp/</tmp_path>
    <mark_cache_size>134217728</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <users_config>users.xml</users_config>
    <remote_servers><$chcluster_name>$shards</$chcluster_name></remote_servers>
</yandex>
XML
    ch_users_xml "$d"
    rm -f "$d/clickhouse.pid"
    clickhouse-server --config-file="$d/config.xml" --daemon --pid-file="$d/clickhouse.pid" >>"$d/clickhouse.out" 2>&1 8>&- ||
      die "clickhouse-server on $port did not start; see $d/clickhouse.out and $d/clickhouse.err.log"
  done
  for port in "${ports[@]}"; do
    wait_for "clickhouse $port" "$dir/$port/clickhouse.err.log" clickhouse-client --port "$port" --query "SELECT 1" ||
      die "clickhouse on $port did not answer SELECT 1"
  done
  say "clickhouse cluster $chcluster_name ready on ${chcluster_ports}"
}

chcluster_down() {
  local port ports
  IFS=, read -r -a ports <<<"$chcluster_ports"
  for port in "${ports[@]}"; do
    stop "$run/chcluster/$port/clickhouse.pid" clickhouse
  done
}

# chcluster_answers: every server of the test cluster answers and knows the cluster.
chcluster_answers() {
  local port ports
  IFS=, read -r -a ports <<<"$chcluster_ports"
  for port in "${ports[@]}"; do
    [ "$(clickhouse-client --port "$port" --query "SELECT count() FROM system.clusters WHERE cluster = '$chcluster_name'" 2>/dev/null)" = "${#ports[@]}" ] || return 1
  done
}

# sentinel_up: a primary, its replica and three sentinels. Each server has a config file of its own, which
# Redis and the sentinels rewrite as the roles change, so that a restart keeps the roles a failover gave.
sentinel_up() {
  local dir="$run/sentinel" port ports sports first d
  IFS=, read -r -a ports <<<"$sentinel_redis_ports"
  IFS=, read -r -a sports <<<"$sentinel_ports"
  first=${ports[0]}
  ensure redis-server redis-server
  ensure redis-cli redis-tools
  mkdir -p "$dir"
  exec 7>"$dir/lock"
  flock -w "$wait_s" 7 || die "another infra.sh holds $dir/lock"
  if ! sentinel_running && sentinel_answers; then
    say "reusing the sentinels already answering on ${sentinel_ports}"
    return 0
  fi
  for port in "${ports[@]}"; do
    d="$dir/$port"
    mkdir -p "$d"
    alive "$d/redis.pid" redis-server && continue
    port_busy "$port" && die "port $port is taken; set STREAMSYNC_DEV_SENTINEL_REDIS_PORTS"
    if [ ! -s "$d/redis.conf" ]; then
      {
        echo "port $port"; echo "bind 127.0.0.1"; echo "dir $d"; echo 'save ""'; echo "appendonly no"
        echo "pidfile $d/redis.pid"; echo "logfile $d/redis.log"; echo "daemonize yes"
        echo "repl-diskless-sync yes"; echo "repl-diskless-sync-delay 0"
        echo "enable-debug-command local"  # the fault suite's DEBUG SLEEP
        [ "$port" = "$first" ] || echo "replicaof 127.0.0.1 $first"
      } >"$d/redis.conf"
    fi
    rm -f "$d/redis.pid"
    # 7>&-: a daemon that kept the lock's descriptor would hold the lock for its whole life.
    redis-server "$d/redis.conf" 7>&- || die "redis-server on $port did not start; see $d/redis.log"
    wait_for "sentinel's redis $port" "$d/redis.log" sh -c "redis-cli -p $port ping | grep -q PONG" ||
      die "redis on $port did not answer PING"
  done
  for port in "${sports[@]}"; do
    d="$dir/$port"
    mkdir -p "$d"
    alive "$d/sentinel.pid" redis-server && continue
    port_busy "$port" && die "port $port is taken; set STREAMSYNC_DEV_SENTINEL_PORTS"
    if [ ! -s "$d/sentinel.conf" ]; then
      {
        echo "port $port"; echo "bind 127.0.0.1"; echo "dir $d"; echo "daemonize yes"
        echo "pidfile $d/sentinel.pid"; echo "logfile $d/sentinel.log"
        echo "sentinel monitor $sentinel_master 127.0.0.1 $first 2"
        echo "sentinel down-after-milliseconds $sentinel_master 1000"
        echo "sentinel failover-timeout $sentinel_master 5000"
        echo "sentinel parallel-syncs $sentinel_master 1"
      } >"$d/sentinel.conf"
    fi
    rm -f "$d/sentinel.pid"
    redis-server "$d/sentinel.conf" --sentinel 7>&- || die "sentinel on $port did not start; see $d/sentinel.log"
  done
  wait_for "sentinels" "$dir/${sports[0]}/sentinel.log" sentinel_ready || die "the sentinels on ${sentinel_ports} do not agree on a master with a replica"
  say "redis sentinel ready: master $sentinel_master, redis on ${sentinel_redis_ports}, sentinels on ${sentinel_ports}"
}

# sentinel_ready: every sentinel answers, knows the others, and its master has a replica that is in sync.
sentinel_ready() {
  local port sports master
  IFS=, read -r -a sports <<<"$sentinel_ports"
  for port in "${sports[@]}"; do
    master=$(redis-cli -p "$port" sentinel get-master-addr-by-name "$sentinel_master" 2>/dev/null | tail -n 1)
    [ -n "$master" ] || return 1
    [ "$(redis-cli -p "$port" sentinel master "$sentinel_master" | grep -A1 -x num-other-sentinels | tail -n 1)" = "$(( ${#sports[@]} - 1 ))" ] || return 1
  done
  redis-cli -p "$master" info replication | grep -q 'slave0:.*state=online'
}

sentinel_down() {
  local port
  for port in ${sentinel_ports//,/ }; do stop "$run/sentinel/$port/sentinel.pid" redis-server; done
  for port in ${sentinel_redis_ports//,/ }; do stop "$run/sentinel/$port/redis.pid" redis-server; done
}

sentinel_running() {
  local port
  for port in ${sentinel_ports//,/ }; do alive "$run/sentinel/$port/sentinel.pid" redis-server || return 1; done
  for port in ${sentinel_redis_ports//,/ }; do alive "$run/sentinel/$port/redis.pid" redis-server || return 1; done
}

sentinel_answers() {
  redis-cli -p "${sentinel_ports%%,*}" sentinel get-master-addr-by-name "$sentinel_master" 2>/dev/null | grep -q .
}

# Each check of status gives up after a few seconds: a port held by something silent never answers.

# redis_where PORT: where the Redis (or sentinel) answering on PORT keeps its configuration or data, to tell
# one checkout's from another's.
redis_where() {
  local f
  f=$(timeout 3 redis-cli -p "$1" info server 2>/dev/null | tr -d '\r' | sed -n 's/^config_file://p')
  [ -n "$f" ] || f=$(timeout 3 redis-cli -p "$1" config get dir 2>/dev/null | tr -d '\r' | sed -n 2p)
  [ -z "$f" ] || printf ' (%s)' "$f"
}

redis_pong() { timeout 3 redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; }
ch_answers() { timeout 5 clickhouse-client --port "$1" --query "SELECT 1" >/dev/null 2>&1; }

# report WHAT PORT PIDFILE NAME CHECK...: say what answers on PORT, as up sees it: this checkout's server (its
# pid file names a live NAME), another one that CHECK accepts (up reuses it, when reuse is "port"; the Cluster's
# and the Sentinel's are reused as a whole, as their summary line says), something else (up refuses the port), or
# nothing (up starts one).
reuse=port
report() {
  local what=$1 port=$2 pidfile=$3 name=$4 where=""; shift 4
  if alive "$pidfile" "$name"; then
    if "$@"; then
      say "$what on 127.0.0.1:$port: this checkout's (pid $(cat "$pidfile")), answering"
    else
      say "$what on 127.0.0.1:$port: this checkout's (pid $(cat "$pidfile")), NOT answering"
    fi
  elif "$@"; then
    [ "$name" != redis-server ] || where=$(redis_where "$port")
    say "$what on 127.0.0.1:$port: answering, not this checkout's$where$([ "$reuse" != port ] || echo "; up reuses it")"
  elif port_busy "$port"; then
    say "$what on 127.0.0.1:$port: the port is taken by something else; up refuses it"
  else
    say "$what on 127.0.0.1:$port: nothing answers; up starts one"
  fi
}

# sentinel_knows PORT: the sentinel on PORT names a master for sentinel_master.
sentinel_knows() { timeout 3 redis-cli -p "$1" sentinel get-master-addr-by-name "$sentinel_master" 2>/dev/null | grep -q .; }

# chcluster_member PORT: the ClickHouse on PORT knows the test cluster with all its servers.
chcluster_member() {
  local ports
  IFS=, read -r -a ports <<<"$chcluster_ports"
  [ "$(timeout 5 clickhouse-client --port "$1" --query "SELECT count() FROM system.clusters WHERE cluster = '$chcluster_name'" 2>/dev/null)" = "${#ports[@]}" ]
}

status() {
  local port master
  report redis "$redis_port" "$redis_dir/redis.pid" redis-server redis_pong "$redis_port"
  report clickhouse "$ch_port" "$ch_dir/clickhouse.pid" clickhouse ch_answers "$ch_port"
  report postgres "$pg_port" "$pg_dir/postgres.pid" postgres pg_ready
  reuse=whole
  for port in ${cluster_ports//,/ }; do
    report "redis cluster node" "$port" "$run/cluster/$port/redis.pid" redis-server redis_pong "$port"
  done
  if cluster_answers; then
    say "redis cluster on $cluster_ports: cluster_state:ok$(cluster_any_running && echo ", with nodes of this checkout" || echo "; up reuses it")"
  fi
  reuse=port
  for port in ${chcluster_ports//,/ }; do
    report "clickhouse cluster $chcluster_name server" "$port" "$run/chcluster/$port/clickhouse.pid" clickhouse chcluster_member "$port"
  done
  reuse=whole
  for port in ${sentinel_redis_ports//,/ }; do
    report "redis sentinel's redis" "$port" "$run/sentinel/$port/redis.pid" redis-server redis_pong "$port"
  done
  for port in ${sentinel_ports//,/ }; do
    report "sentinel" "$port" "$run/sentinel/$port/sentinel.pid" redis-server sentinel_knows "$port"
  done
  if sentinel_answers; then
    master=$(redis-cli -p "${sentinel_ports%%,*}" sentinel get-master-addr-by-name "$sentinel_master" 2>/dev/null | paste -sd: -)
    say "redis sentinel: master $sentinel_master at $master$(sentinel_running && echo ", every server this checkout's" || echo "; up sentinel reuses it")"
  fi
}

env_lines() {
  echo "export STREAMSYNC_TEST_REDIS_ADDR=127.0.0.1:$redis_port"
  echo "export STREAMSYNC_TEST_CLICKHOUSE_ADDR=127.0.0.1:$ch_port"
  echo "export STREAMSYNC_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
  # What the CLI (streamsync status|dead|chains) reads, so that it talks to these servers too.
  echo "export STREAMSYNC_REDIS__ADDR=127.0.0.1:$redis_port"
  echo "export STREAMSYNC_CLICKHOUSE__ADDR=127.0.0.1:$ch_port"
  if cluster_running || cluster_answers; then
    echo "export STREAMSYNC_TEST_REDIS_CLUSTER_ADDRS=127.0.0.1:${cluster_ports//,/,127.0.0.1:}"
  fi
  if sentinel_running || sentinel_answers; then
    echo "export STREAMSYNC_TEST_REDIS_SENTINEL_ADDRS=127.0.0.1:${sentinel_ports//,/,127.0.0.1:}"
    echo "export STREAMSYNC_TEST_REDIS_SENTINEL_MASTER=$sentinel_master"
  fi
  if chcluster_answers; then
    echo "export STREAMSYNC_TEST_CLICKHOUSE_CLUSTER_ADDRS=127.0.0.1:${chcluster_ports//,/,127.0.0.1:}"
    echo "export STREAMSYNC_TEST_CLICKHOUSE_CLUSTER=$chcluster_name"
  fi
}

mkdir -p "$run"
cmd=${1:-}
what=${2:-all}
case "$cmd:$what" in
  up:all) redis_up; clickhouse_up; postgres_up ;;
  up:redis) redis_up ;;
  up:chromium) ensure chromium chromium; say "chromium ready: $(command -v chromium)" ;;  # for the console's browser tests
  up:clickhouse) clickhouse_up ;;
  up:postgres) postgres_up ;;
  up:cluster) cluster_up ;;
  up:chcluster) chcluster_up ;;
  up:sentinel) sentinel_up ;;
  down:all) stop "$pg_dir/postgres.pid" postgres INT; stop "$ch_dir/clickhouse.pid" clickhouse; stop "$redis_dir/redis.pid" redis-server ;;
  down:redis) stop "$redis_dir/redis.pid" redis-server ;;
  down:clickhouse) stop "$ch_dir/clickhouse.pid" clickhouse ;;
  down:postgres) stop "$pg_dir/postgres.pid" postgres INT ;;  # SIGINT: fast shutdown, clients disconnected
  down:cluster) cluster_down ;;
  down:chcluster) chcluster_down ;;
  down:sentinel) sentinel_down ;;
  status:*) status ;;
  env:*) env_lines ;;
  *) die "usage: $0 up|down [redis|clickhouse|postgres|cluster|chcluster|sentinel] | status | env" ;;
esac
