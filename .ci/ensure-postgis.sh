#!/usr/bin/env bash
# Make sure PostgreSQL with the PostGIS extension is reachable for the test suite.
# On a Debian machine where we are root: installs postgresql-<major>-postgis-3 and starts the
# cluster when needed. Exits non-zero (naming the problem) when it cannot.
set -euo pipefail

HOST=${PGHOST:-127.0.0.1}
PORT=${PGPORT:-5432}
USER_NAME=${PGUSER:-postgres}

q() { psql -h "$HOST" -p "$PORT" -U "$USER_NAME" -d postgres -Atqc "$1" 2>/dev/null; }

server_up() { q "SELECT 1" | grep -q 1; }
postgis_available() { q "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'" | grep -q 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

start_server() {
  command -v pg_ctlcluster >/dev/null || return 1
  for version in $(ls /etc/postgresql 2>/dev/null); do
    echo "starting PostgreSQL $version cluster 'main'"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do server_up && return 0; sleep 1; done
  return 1
}

if ! command -v psql >/dev/null; then
  echo "ensure-postgis: psql not found; install PostgreSQL 15 client and server" >&2
  exit 1
fi

server_up || start_server || { echo "ensure-postgis: PostgreSQL is not reachable at $HOST:$PORT" >&2; exit 1; }

if ! postgis_available; then
  major=$(q "SHOW server_version_num" | cut -c1-2)
  package="postgresql-${major}-postgis-3"
  echo "PostGIS missing: installing $package"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq "$package" >/dev/null
fi

if ! postgis_available; then
  echo "ensure-postgis: the PostGIS extension is still not available on $HOST:$PORT" >&2
  exit 1
fi
echo "PostgreSQL $(q 'SHOW server_version') with PostGIS available at $HOST:$PORT"
