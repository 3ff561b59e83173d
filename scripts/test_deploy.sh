#!/usr/bin/env bash
# Checks the multi-replica deployment files offline (tests/deploy/test_deploy.py): the Helm chart
# deploy/helm/cogway rendered by Helm's own engine and validated against the Kubernetes schemas,
# docker/compose.cluster.yaml against the Compose Specification, docker/nginx.cluster.conf with
# `nginx -t`. Needs no cluster, Docker engine or network once installed.
#
# The checkers (pinned in tests/deploy/requirements.txt) live in their own virtualenv,
# $COGWAY_CACHE/deploy-venv; a stamp skips pip when nothing changed. nginx-light is installed with
# apt when no nginx is found (as root, or with sudo). Extra arguments go to pytest.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${COGWAY_CACHE:-$HOME/.cache/cogway}
venv=$cache/deploy-venv
requirements=$here/tests/deploy/requirements.txt
mkdir -p "$cache"

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "test-deploy: installing nginx-light (for nginx -t)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
  $SUDO apt-get update -qq
  # The tests only run `nginx -t` on a copy of the config; no server of it is started by them.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx-light < /dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "test-deploy: creating the virtualenv $venv"
  python3 -m venv "$venv"
fi
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "test-deploy: installing $requirements"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$requirements"
  echo "$want" > "$venv/.requirements.sha256"
fi

cd "$here"
# The cache provider stays off: it would write .pytest_cache into the tree.
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/deploy "$@" < /dev/null
