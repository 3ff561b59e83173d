#!/usr/bin/env bash
# `make test-api`: runs schemathesis against the gateway's own OpenAPI document. Starts the cogway
# binary ($COGWAY_BIN, else the debug build) on a free loopback port with a fresh database and an
# admin key, waits until it is ready, and checks every documented operation with generated requests:
# no 5xx (not_a_server_error) and every response inside the documented schema
# (response_schema_conformance). Stops the server afterwards; exits non-zero if a check failed.
#
# Settings (environment): API_MAX_EXAMPLES (default 20 requests per operation), API_MAX_TIME
# (default 900 s for the whole run), API_CHECKS (default not_a_server_error,response_schema_conformance),
# API_ARGS (more schemathesis flags). The report is written to $COGWAY_CACHE/test-api/.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${COGWAY_CACHE:-$HOME/.cache/cogway}
venv=$cache/api-venv
bin=${COGWAY_BIN:-${CARGO_TARGET_DIR:-$here/target}/debug/cogway}
max_examples=${API_MAX_EXAMPLES:-20}
max_time=${API_MAX_TIME:-900}
checks=${API_CHECKS:-not_a_server_error,response_schema_conformance}
report=$cache/test-api
mkdir -p "$report"

# Schemathesis, pinned, in its own virtualenv (a stamp skips pip when nothing changed).
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
want=$(sha256sum "$here/tests/api/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/tests/api/requirements.txt"
  echo "$want" > "$venv/.requirements.sha256"
fi

[ -x "$bin" ] || { echo "test-api: no cogway binary at $bin (build it, or set COGWAY_BIN)" >&2; exit 1; }
work=$(mktemp -d)
admin_key="test-api-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

COGWAY__AUTH__ADMIN_KEY=$admin_key \
  COGWAY__AUTH__JWT_SECRET="test-api-jwt-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" \
  COGWAY__SERVER__WORKERS=2 COGWAY__LIMITS__DEFAULT_RPS=100000 RUST_LOG=${RUST_LOG:-warn} \
  "$bin" serve --port 0 --host 127.0.0.1 --database "sqlite://$work/cogway.db" \
  > "$work/stdout" 2> "$report/server.log" < /dev/null &
server=$!

port=""
for _ in $(seq 1 600); do
  port=$(sed -n 's/^cogway listening on port \([0-9]*\).*/\1/p' "$work/stdout" | head -1)
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || { echo "test-api: cogway exited before listening" >&2; cat "$report/server.log" >&2; exit 1; }
  sleep 0.5
done
[ -n "$port" ] || { echo "test-api: cogway did not listen within 300 s" >&2; exit 1; }
base="http://127.0.0.1:$port"
# The models load in the background: wait until /ready says so (the checks need them loaded).
for _ in $(seq 1 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/ready")" = 200 ] && break
  sleep 0.5
done
echo "test-api: cogway ready on $base; schemathesis: $checks, at most $max_examples examples per operation, $max_time s"

status=0
cd "$here"
# shellcheck disable=SC2086 # API_ARGS is a list of flags
"$venv/bin/schemathesis" --no-color --config-file tests/api/schemathesis.toml run "$base/openapi.json" \
  --checks "$checks" \
  --header "Ocp-Apim-Subscription-Key: $admin_key" \
  --max-examples "$max_examples" --max-time "$max_time" \
  --request-timeout 60 --workers 2 --seed 1 --generation-database none \
  --report junit,ndjson --report-dir "$report" \
  ${API_ARGS:-} || status=$?
kill -0 "$server" 2>/dev/null || { echo "test-api: cogway died during the run (see $report/server.log)" >&2; status=1; }
echo "test-api: schemathesis exited with $status; reports in $report"
exit "$status"
