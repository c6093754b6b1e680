#!/usr/bin/env bash
# Start a throwaway PostgreSQL for enrollkit's tests and print the DSN to use.
#
#   eval "$(.ci/postgres.sh)"     # then ENROLLKIT_PG_DSN is set
#
# Idempotent: installs Debian's postgresql only when no server binaries exist,
# initialises the cluster only once, starts it only when it is not running, and
# creates the database only when it is missing. Everything but the final
# `export` line goes to stderr, so the output can be eval'ed.
#
# Settings (environment): ENROLLKIT_PG_PORT (54329), ENROLLKIT_PG_DATA
# (/tmp/enrollkit-pgdata), ENROLLKIT_PG_DB (enrollkit).
set -euo pipefail

PORT="${ENROLLKIT_PG_PORT:-54329}"
DATA="${ENROLLKIT_PG_DATA:-/tmp/enrollkit-pgdata}"
DB="${ENROLLKIT_PG_DB:-enrollkit}"
SOCKETS="${DATA}-sockets"
log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$dir" && -x "$dir/pg_ctl" ]]; then echo "$dir"; fi
}

BIN="$(find_bindir)"
if [[ -z "$BIN" ]]; then
  log "installing PostgreSQL from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN="$(find_bindir)"
  [[ -n "$BIN" ]] || { log "PostgreSQL binaries not found after install"; exit 1; }
fi

# initdb and postgres refuse to run as root: run them as the postgres user then.
as_pg() {
  if [[ "$(id -u)" == "0" ]]; then
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

if [[ ! -s "$DATA/PG_VERSION" ]]; then
  log "initialising a cluster in $DATA"
  mkdir -p "$DATA"
  if [[ "$(id -u)" == "0" ]]; then chown postgres: "$DATA"; fi
  chmod 700 "$DATA"
  as_pg "'$BIN/initdb' -D '$DATA' -U postgres -A trust -E UTF8 --no-sync" >&2
fi
mkdir -p "$SOCKETS"
if [[ "$(id -u)" == "0" ]]; then chown postgres: "$SOCKETS"; fi

if ! as_pg "'$BIN/pg_ctl' -D '$DATA' status" >/dev/null 2>&1; then
  log "starting PostgreSQL on 127.0.0.1:$PORT"
  as_pg "'$BIN/pg_ctl' -D '$DATA' -l '$DATA/server.log' -w -t 60 \
    -o \"-p $PORT -k '$SOCKETS' -c listen_addresses=127.0.0.1 -c max_connections=200\" start" >&2
fi

if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  log "creating database $DB"
  "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
fi

echo "export ENROLLKIT_PG_DSN=postgresql://postgres@127.0.0.1:$PORT/$DB"
