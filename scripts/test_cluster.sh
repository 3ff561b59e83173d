#!/usr/bin/env bash
# The multi-replica test (`make test-cluster`): two gateways on one PostgreSQL and one Redis, with
# nginx in front of both (tests/cluster). This script provides the throwaway engines:
#   - installs postgresql, redis-server and nginx-light with apt when missing (as root, or sudo);
#   - starts a PostgreSQL cluster in a temporary directory on a free port of 127.0.0.1 (its unix
#     socket in that directory too), with a database and a user with a password;
#   - starts a redis-server on a free port, nothing persisted;
#   - starts moto's S3 server (from the virtualenv, tests/requirements.txt) on a free port with a
#     bucket, so the replicas keep job inputs in S3 (blobs.backend = "s3");
#   - runs pytest on tests/cluster with the project's virtualenv (scripts/setup.sh made it);
#   - removes everything on exit, whether the tests passed or not.
# The tests get COGWAY_BIN (default $CARGO_TARGET_DIR/debug/cogway), COGWAY_CLUSTER_PG_URL,
# COGWAY_CLUSTER_REDIS_URL, COGWAY_CLUSTER_S3_URL (endpoint/bucket) and COGWAY_CLUSTER_TMP (their working directory's parent). Extra
# arguments go to pytest (e.g. -k revoked, -s); COGWAY_CLUSTER_KEEP=1 keeps the replicas' logs.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${COGWAY_CACHE:-$HOME/.cache/cogway}
python=${COGWAY_VENV:-$cache/venv}/bin/python
export COGWAY_BIN=${COGWAY_BIN:-${CARGO_TARGET_DIR:-$cache/target}/debug/cogway}
# Debian 12's PostgreSQL is 15; another installed major version does as well.
pg_bin_dir() {
  if [ -x /usr/lib/postgresql/15/bin/initdb ]; then echo /usr/lib/postgresql/15/bin; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true
}

log() { echo "test-cluster: $*" >&2; }

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

need_apt=()
[ -n "$(pg_bin_dir)" ] || need_apt+=(postgresql)
command -v psql >/dev/null || need_apt+=(postgresql-client)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  $SUDO apt-get update -qq
  # The packages' own services (the default cluster on 5432, redis on 6379) are not used here.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" < /dev/null
fi

pg_bin=$(pg_bin_dir)
[ -x "$pg_bin/initdb" ] || { log "no PostgreSQL server binaries under /usr/lib/postgresql"; exit 1; }
[ -x "$COGWAY_BIN" ] || { log "no cogway binary at $COGWAY_BIN (build it, or set COGWAY_BIN)"; exit 1; }
[ -x "$python" ] || { log "no virtualenv at $python: run scripts/setup.sh (make setup) first"; exit 1; }

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cogway-cluster-XXXXXX")
# PostgreSQL runs as the postgres user when we are root (initdb refuses root): it must enter.
chmod 755 "$tmp"
redis_pid=""
s3_pid=""
pg_started=""
tests_failed=none

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  local status=$?
  set +e
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    kill "$redis_pid"
    for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$redis_pid" 2>/dev/null
  fi
  if [ -n "$s3_pid" ] && kill -0 "$s3_pid" 2>/dev/null; then
    kill "$s3_pid"
    for _ in $(seq 50); do kill -0 "$s3_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$s3_pid" 2>/dev/null
  fi
  if [ -n "$pg_started" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$tmp/pgdata" -m immediate -w stop >/dev/null 2>&1
  fi
  # Tests that failed have the replicas' logs in their reports; anything else may be the engines'.
  if [ "$status" != 0 ] && [ "$status" != "$tests_failed" ]; then
    for f in "$tmp/postgres.log" "$tmp/redis.log" "$tmp/s3.log"; do
      [ -s "$f" ] && { log "last lines of $f:"; tail -n 20 "$f" >&2; }
    done
  fi
  if [ -n "${COGWAY_CLUSTER_KEEP:-}" ]; then
    rm -rf "$tmp/pgdata" "$tmp/pgsock"
    log "kept the logs in $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PostgreSQL: a cluster of its own, trusted on its unix socket (inside $tmp), passwords over TCP.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
mkdir -p "$tmp/pgdata" "$tmp/pgsock"
[ "$(id -u)" = 0 ] && chown postgres: "$tmp/pgdata" "$tmp/pgsock"
pg_port=$(free_port)
pg_user=cogway
pg_password=$("$python" -c 'import secrets; print(secrets.token_hex(12))')
pg_db=cogway
as_pg "$pg_bin/initdb" -D "$tmp/pgdata" -U postgres -E UTF8 --no-locale \
  --auth-local=trust --auth-host=scram-sha-256 >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; exit 1; }
# The log goes to a file the postgres user may write.
touch "$tmp/postgres.log"
[ "$(id -u)" = 0 ] && chown postgres: "$tmp/postgres.log"
# fsync off: a throwaway cluster; max_connections: 2 replicas x 8 plus psql.
as_pg "$pg_bin/pg_ctl" -D "$tmp/pgdata" -l "$tmp/postgres.log" -w -t 60 \
  -o "-p $pg_port -k $tmp/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60" start >/dev/null
pg_started=1
as_pg "$pg_bin/psql" -q -v ON_ERROR_STOP=1 -h "$tmp/pgsock" -p "$pg_port" -U postgres -d postgres \
  -c "CREATE ROLE $pg_user LOGIN CREATEDB PASSWORD '$pg_password'" \
  -c "CREATE DATABASE $pg_db OWNER $pg_user" >/dev/null
export COGWAY_CLUSTER_PG_URL="postgres://$pg_user:$pg_password@127.0.0.1:$pg_port/$pg_db"
log "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port ($tmp/pgdata)"

# Redis: nothing saved, nothing appended; backgrounded here so its pid is ours to stop.
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
  --logfile "$tmp/redis.log" --daemonize no < /dev/null &
redis_pid=$!
for _ in $(seq 100); do
  redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
  kill -0 "$redis_pid" 2>/dev/null || { log "redis-server exited"; exit 1; }
  sleep 0.1
done
redis-cli -p "$redis_port" ping | grep -q PONG || { log "redis-server did not answer"; exit 1; }
export COGWAY_CLUSTER_REDIS_URL="redis://127.0.0.1:$redis_port/0"
log "Redis on 127.0.0.1:$redis_port"

# S3: moto's server, in memory, with one bucket (an unsigned PUT creates it).
s3_port=$(free_port)
[ -x "$(dirname "$python")/moto_server" ] || { log "no moto_server in the virtualenv: run scripts/setup.sh (make setup)"; exit 1; }
"$(dirname "$python")/moto_server" -H 127.0.0.1 -p "$s3_port" >"$tmp/s3.log" 2>&1 < /dev/null &
s3_pid=$!
s3_bucket=cogway-cluster
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$s3_port/moto-api/" && break
  kill -0 "$s3_pid" 2>/dev/null || { log "moto_server exited"; exit 1; }
  sleep 0.1
done
curl -sf -o /dev/null -X PUT "http://127.0.0.1:$s3_port/$s3_bucket" || { log "could not create the S3 bucket"; exit 1; }
export COGWAY_CLUSTER_S3_URL="http://127.0.0.1:$s3_port/$s3_bucket"
log "S3 (moto $("$python" -c 'import moto; print(moto.__version__)')) on 127.0.0.1:$s3_port, bucket $s3_bucket"

cd "$here"
# The replicas' logs and nginx's files go there too, so they go when it does.
export COGWAY_CLUSTER_TMP=$tmp
# The cache provider stays off: it would write .pytest_cache into the tree. No `exec`: the trap
# must still clean up after pytest.
status=0
if [ "${1:-}" = "--bench" ]; then
  # `make bench-cluster`: the benchmark instead of the tests, on the same throwaway engines.
  shift
  "$python" tests/bench/cluster_bench.py "$@" < /dev/null || status=$?
  exit "$status"
fi
"$python" -m pytest -p no:cacheprovider -rA tests/cluster "$@" < /dev/null || status=$?
[ "$status" = 1 ] && tests_failed=1  # pytest: some tests failed (2 and up: it could not run them)
# Then every end-to-end test of the Rust suite on PostgreSQL (a database per test server, made
# by the harness through psql as this user, who may create databases), unless told not to.
if [ "$status" = 0 ] && [ -z "${COGWAY_CLUSTER_SKIP_E2E:-}" ]; then
  log "the end-to-end suite on PostgreSQL"
  # `--workspace --test NAME` (not `-p cogway-tests`) resolves features as `make build` did, so
  # nothing is compiled again.
  e2e=()
  for f in tests/tests/*.rs; do e2e+=(--test "$(basename "$f" .rs)"); done
  COGWAY_TEST_POSTGRES="${COGWAY_CLUSTER_PG_URL%/*}/postgres" \
    cargo test --workspace "${e2e[@]}" --no-fail-fast -- --test-threads=2 < /dev/null \
    || { status=$?; tests_failed=$status; }
fi
# And the blob store's own tests against the S3 server (they skip without COGWAY_TEST_S3).
if [ "$status" = 0 ]; then
  log "the S3 blob store's tests"
  COGWAY_TEST_S3="$COGWAY_CLUSTER_S3_URL" cargo test --workspace --lib -- blobs:: < /dev/null \
    || { status=$?; tests_failed=$status; }
fi
exit "$status"
