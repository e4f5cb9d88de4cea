#!/usr/bin/env bash
# `make scale-demo`: try scale-out on this machine before renting a cluster. Brings up a
# PostgreSQL instance (deploy/postgres/dagster.yaml), a Redis broker and two Celery workers
# (deploy/celery/README.md; GN_DEVICE per worker: cuda:0 and cuda:1 when there are two GPUs,
# else the CPU), materializes the demo through them (GN_EXECUTOR=celery: every step is a
# Celery task; the shards' collection runs go at once, so both workers take steps), and takes
# everything down again. Servers listen on 127.0.0.1 only; state is under .scale/ (the
# artifacts, the instance's Postgres data, the logs; as root the Postgres data is in
# /var/tmp/golden-noise-pg-*), replaced by the next run.
# Browse the result: `make scale-ui` starts the servers again with the webserver.
set -euo pipefail
cd "$(dirname "$0")/../.."
STATE=${GN_SCALE_STATE:-$PWD/.scale}
PG_PORT=${GN_SCALE_PG_PORT:-55432}
REDIS_PORT=${GN_SCALE_REDIS_PORT:-56379}
PY=${PYTHON:-$PWD/.venv/bin/python}
BIN=$(dirname "$PY")
MODE=${1:-demo}  # demo: materialize everything; ui: serve the last demo's instance

pg_bin=$(dirname "$(readlink -f "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)")")
command -v redis-server > /dev/null || { echo "redis-server is missing: apt-get install redis-server" >&2; exit 1; }
[ -x "$pg_bin/initdb" ] || { echo "the PostgreSQL server is missing: apt-get install postgresql" >&2; exit 1; }
as_postgres() {  # Postgres refuses to run as root
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
# As root the server runs as `postgres`, which may not reach a checkout in a private folder
# (a fresh clone under a mode-700 temporary directory): its data then lives in /var/tmp.
PG_DIR=$STATE/pg
if [ "$(id -u)" -eq 0 ]; then
  PG_DIR=/var/tmp/golden-noise-pg-$(echo "$STATE" | md5sum | cut -c1-8)
fi

export DAGSTER_HOME=$STATE/dagster_home GN_STORAGE_ROOT=$STATE/artifacts
export DAGSTER_PG_USERNAME=gn DAGSTER_PG_PASSWORD="" DAGSTER_PG_HOST=127.0.0.1 DAGSTER_PG_PORT=$PG_PORT
export DAGSTER_CELERY_BROKER_URL=redis://127.0.0.1:$REDIS_PORT/0
export DAGSTER_CELERY_BACKEND_URL=redis://127.0.0.1:$REDIS_PORT/1
export GN_EXECUTOR=celery GN_EXECUTOR_CONFIG=$PWD/deploy/celery/executor.yaml
export PATH=$BIN:$PATH

stop_all() {
  set +e
  [ -n "${workers:-}" ] && kill -TERM -- $(for pid in $workers; do echo "-$pid"; done) 2> /dev/null
  [ -n "${workers:-}" ] && wait $workers 2> /dev/null
  [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2> /dev/null && wait "$redis_pid" 2> /dev/null
  as_postgres "$pg_bin/pg_ctl" -D "$PG_DIR/data" -m fast stop > /dev/null 2>&1
  echo "scale-demo: servers and workers stopped (state in $STATE)"
}
trap stop_all EXIT

if [ "$MODE" = demo ]; then
  rm -rf "$STATE" "$PG_DIR"
  mkdir -p "$STATE/logs" "$DAGSTER_HOME" "$PG_DIR"
  cp deploy/postgres/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
  as_postgres "$pg_bin/initdb" -D "$PG_DIR/data" -U gn --auth=trust -E UTF8 > "$STATE/logs/initdb.log"
fi
as_postgres "$pg_bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w start \
  -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" > /dev/null
[ "$MODE" = demo ] && "$pg_bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U gn golden_noise
echo "scale-demo: Postgres on 127.0.0.1:$PG_PORT"

if [ "$MODE" = ui ]; then
  cd "$DAGSTER_HOME" && "$BIN/dagster" dev -w "$OLDPWD/workspace.yaml"
  exit
fi

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$STATE" > "$STATE/logs/redis.log" 2>&1 &
redis_pid=$!
echo "scale-demo: Redis on 127.0.0.1:$REDIS_PORT"

gpus=$("$PY" -c "import torch; print(torch.cuda.device_count())")
# On the CPU the two workers share the cores: each gets half (more torch threads than cores
# make every step several times slower).
threads=$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))
workers=""
for i in 0 1; do
  device=$([ "$gpus" -ge 2 ] && echo "cuda:$i" || echo cpu)
  GN_DEVICE=$device GN_THREADS=$threads setsid "$BIN/dagster-celery" worker start -A dagster_celery.app \
    -i gn_dagster.definitions \
    -y deploy/celery/executor.yaml -q gpu -n "gpu$i" -- --concurrency=1 \
    > "$STATE/logs/worker-gpu$i.log" 2>&1 &
  workers="$workers $!"
  echo "scale-demo: Celery worker gpu$i (GN_DEVICE=$device GN_THREADS=$threads), log $STATE/logs/worker-gpu$i.log"
done
for i in 0 1; do
  for _ in $(seq 300); do grep -q "gpu$i@.* ready\." "$STATE/logs/worker-gpu$i.log" && break; sleep 1; done
  grep -q "gpu$i@.* ready\." "$STATE/logs/worker-gpu$i.log" || { echo "worker gpu$i did not start:" >&2; tail "$STATE/logs/worker-gpu$i.log" >&2; exit 1; }
done

"$PY" -m gn_dagster.demo
for i in 0 1; do
  echo "scale-demo: worker gpu$i ran $(grep -c 'execute_plan\[.*\] succeeded' "$STATE/logs/worker-gpu$i.log") steps"
done
