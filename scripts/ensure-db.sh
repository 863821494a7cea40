#!/usr/bin/env bash
# Makes sure a PostGIS server is reachable and prints the DATABASE_URL to use (last line).
#  - DATABASE_URL set: use that server; install Debian's PostGIS package when the server is
#    local and lacks it; create the database when missing.
#  - otherwise: a private cluster under .local/ (port TERREAU_PG_PORT, default 5433) run with
#    the system's PostgreSQL binaries, installing postgresql-15-postgis-3 when missing.
#    PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_MAJOR="${TERREAU_PG_MAJOR:-15}"
PORT="${TERREAU_PG_PORT:-5433}"
log() { echo "[ensure-db] $*" >&2; }

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  log "installation de : $*"
  export DEBIAN_FRONTEND=noninteractive
  sudo_ apt-get install -y -qq "$@" >&2 || { sudo_ apt-get update -qq >&2 && sudo_ apt-get install -y -qq "$@" >&2; }
}
plain_url() { echo "$1" | sed -E 's#^postgres(ql)?(\+[a-z0-9]+)?://#postgresql://#'; }

if [ -n "${DATABASE_URL:-}" ]; then
  url="$(plain_url "$DATABASE_URL")"
  command -v psql >/dev/null || apt_install postgresql-client
  db="$(echo "$url" | sed -E 's#^.*/([^/?]+)(\?.*)?$#\1#')"
  admin_url="$(echo "$url" | sed -E "s#/${db}(\?.*)?\$#/postgres#")"
  for _ in $(seq 1 30); do psql "$admin_url" -tAc 'select 1' >/dev/null 2>&1 && break; sleep 1; done
  psql "$admin_url" -tAc 'select 1' >/dev/null || { log "serveur injoignable : $admin_url"; exit 1; }
  if [ -z "$(psql "$admin_url" -tAc "select 1 from pg_available_extensions where name='postgis'")" ]; then
    host="$(echo "$url" | sed -E 's#^postgresql://([^@/]*@)?([^:/?]*).*#\2#')"
    case "$host" in
      127.0.0.1|localhost|"")
        major="$(psql "$admin_url" -tAc 'show server_version_num' | cut -c1-2)"
        apt_install "postgresql-${major}-postgis-3" ;;
      *) log "PostGIS manque sur $host : installez-le sur ce serveur"; exit 1 ;;
    esac
  fi
  if [ -z "$(psql "$admin_url" -tAc "select 1 from pg_database where datname='${db}'")" ]; then
    psql "$admin_url" -qc "create database \"${db}\"" >&2
  fi
  echo "$url"
  exit 0
fi

PGBIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
if [ ! -x "$PGBIN/initdb" ] || [ ! -f "/usr/share/postgresql/${PG_MAJOR}/extension/postgis.control" ]; then
  apt_install "postgresql-${PG_MAJOR}" "postgresql-${PG_MAJOR}-postgis-3" postgresql-client
fi

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
BASE="$ROOT/.local/pg"
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$ROOT"; then
  # postgres cannot reach the checkout (e.g. under /root): keep the cluster in its own home.
  BASE="/var/lib/postgresql/terreau-$(echo "$ROOT" | md5sum | cut -c1-8)"
fi
DATA="$BASE/data"
SOCK="$BASE/run"
mkdir -p "$BASE" "$SOCK"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$BASE"
if [ ! -f "$DATA/PG_VERSION" ]; then
  log "nouveau cluster PostgreSQL dans $DATA"
  as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$BASE/initdb.log" 2>&1
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "démarrage de PostgreSQL sur 127.0.0.1:$PORT"
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$BASE/postgresql.log" -w \
    -o "-p $PORT -k $SOCK -c listen_addresses=127.0.0.1" start >&2
fi
url="postgresql://postgres@127.0.0.1:${PORT}/terreau"
if [ -z "$(psql "postgresql://postgres@127.0.0.1:${PORT}/postgres" -tAc "select 1 from pg_database where datname='terreau'")" ]; then
  psql "postgresql://postgres@127.0.0.1:${PORT}/postgres" -qc 'create database terreau' >&2
fi
echo "$url"
