#!/usr/bin/env bash
# `make bench`: installs what the benchmarks need, then runs them all (python -m bench), each in
# its own database terreau_bench_<name> on the server $1 names (a postgresql:// URL; only its
# server part is used), writing docs/benchmarks.md's results and bench/history.csv.
#   wrk        Debian's HTTP load generator (without it: httpx threads, a lower bound)
#   chromium   for the map benchmark (scripts/system-deps.sh, already run by `make setup`)
#   tipg       the reference of the API page benchmark, pip-installed in .venv-tipg by
#              bench/tipg.py (its own venv: it must not touch the app's dependencies)
# Extra arguments go to `python -m bench` (e.g. `scripts/bench.sh URL nearby --scale 0.1`).
set -euo pipefail
cd "$(dirname "$0")/.."
url="$1"; shift
have_wrk() { [ -x "$(command -v wrk 2>/dev/null)" ]; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! have_wrk; then
  echo "[bench] installation de : wrk" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo_ apt-get install -y -qq wrk >&2 || { sudo_ apt-get update -qq >&2 && sudo_ apt-get install -y -qq wrk >&2; } \
    || echo "[bench] wrk indisponible : charge HTTP par httpx (borne basse)" >&2
fi
have_wrk || echo "[bench] pas de wrk : charge HTTP par httpx (borne basse)" >&2
DATABASE_URL="$url" .venv/bin/python -m bench.tipg --ensure
DATABASE_URL="$url" exec .venv/bin/python -m bench "$@"
