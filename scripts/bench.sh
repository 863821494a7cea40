#!/usr/bin/env bash
# Every benchmark of docs/benchmarks.md, each in its own database on the server $1 names
# (a postgresql:// URL whose database part is replaced). Takes several minutes; loopback only.
set -euo pipefail
server="${1%/*}"
py=.venv/bin/python
echo "== API pages (issue 3)"; DATABASE_URL="$server/postgres" $py -m bench.api_pages
echo "== Gap analysis (issue 6)"; DATABASE_URL="$server/postgres" $py -m bench.gap
echo "== Nearby (issue 5)"
psql "$server/postgres" -tAc "select 1 from pg_database where datname='terreau_bench'" | grep -q 1 \
  || psql "$server/postgres" -qc "create database terreau_bench"
DATABASE_URL="$server/terreau_bench" .venv/bin/carto db upgrade
DATABASE_URL="$server/terreau_bench" $py -m bench.nearby --resources 100000 --queries 2000 --http-seconds 20
echo "== Maps (issue 4)"
psql "$server/postgres" -tAc "select 1 from pg_database where datname='terreau_bench_maps'" | grep -q 1 \
  || psql "$server/postgres" -qc "create database terreau_bench_maps"
export DATABASE_URL="$server/terreau_bench_maps"
.venv/bin/carto db upgrade
if ! psql "$DATABASE_URL" -tAc "select 1 from territory where slug='bench-maps-10k'" | grep -q 1; then
  $py -m bench.synthetic --resources 10000 --links 20000 --territory bench-maps-10k --departments 34
  $py -m bench.synthetic --resources 100000 --territory bench-maps-100k
  $py -m bench.maps --add-links bench-maps-100k=200000
fi
$py -m bench.maps bench-maps-10k bench-maps-100k --runs 5
