"""Issue 6 benchmark: the gap analysis.

Targets: the gap of one territory with 10,000 producers in its catchment in under 200 ms; the
coverage of every commune of the four departments (about 1,100, for a choropleth) in under 3 s.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5433/terreau python -m bench.gap

Uses its own database `terreau_bench_gap` on that server, filled once with clearly synthetic
rows (source_name 'synthetic benchmark data', illustrative = true): the territory `bench-gap`
(Montpellier Méditerranée Métropole's communes), 10,000 producers inside its 30 km catchment and
20,000 more spread over the four departments, each with a declared output (a third also with a
surface), and farmland for every commune.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from bench import common
from bench.synthetic import SOURCE
from carto import gap, territories
from carto.db import transaction
from carto.gap import supply
from carto.territories import TerritorySpec

DB = "terreau_bench_gap"
SLUG = "bench-gap"
EPCI = "243400017"  # Montpellier Méditerranée Métropole
RADIUS_KM = 30.0
DEPARTMENTS = ["30", "34", "43", "48"]
FOODS = ["vegetables", "fruits", "potatoes", "cereals", "pulses", "oils", "sugar", "dairy",
         "eggs", "meat"]
CROPS = ["cereals", "vegetables", "orchards", "vines", "permanent_grassland", "fodder", "fallow"]


def _producers(session: Any, area_sql: str, count: int, seed: int, params: dict[str, Any]) -> None:
    foods = "ARRAY[" + ",".join(f"'{f}'" for f in FOODS) + "]"
    crops = "ARRAY['vegetables','orchards','cereals','permanent_grassland']"
    session.execute(text(f"""
        CREATE TEMP TABLE pts ON COMMIT DROP AS
        SELECT gen_random_uuid() AS id, (d).geom AS geom, row_number() OVER () AS n
        FROM (SELECT ST_Dump(ST_GeneratePoints(g, :count, :seed)) AS d FROM ({area_sql}) a) x"""),
        params | {"count": count, "seed": seed})
    session.execute(text(f"""
        INSERT INTO resource (id, name, kind, description, geom, location_precision, illustrative,
                              provenance, source_name, external_id, created_by, updated_by,
                              products)
        SELECT id, 'Producteur synthétique #' || :seed || '-' || n, 'producer',
               'Donnée synthétique générée pour les mesures de performance.', geom, 'exact', true,
               'import', :src, 'synthetic-gap-' || :seed || '-' || n, 'bench', 'bench',
               ARRAY[({foods})[1 + (n % 10)]]
        FROM pts"""), {"src": SOURCE, "seed": seed})
    session.execute(text(f"""
        INSERT INTO resource_output (resource_id, food_group, kg_per_year, year, source)
        SELECT id, ({foods})[1 + (n % 10)], 500 + (n * 7919) % 40000, 2024, :src FROM pts"""),
        {"src": SOURCE})
    session.execute(text(f"""
        INSERT INTO resource_surface (resource_id, crop_group, hectares, year, source)
        SELECT id, ({crops})[1 + (n % 4)], 0.5 + (n % 40) / 4.0, 2024, :src FROM pts
        WHERE n % 3 = 0"""), {"src": SOURCE})
    session.execute(text("DROP TABLE pts"))


def prepare() -> str:
    url = common.bench_database(DB)
    if common.count(url, f"SELECT count(*) FROM territory WHERE slug = '{SLUG}'"):
        return url
    with transaction(url) as session:
        codes = list(session.scalars(text("SELECT code FROM commune WHERE epci_code = :e"),
                                     {"e": EPCI}))
        territories.create_from_communes(session, TerritorySpec(
            slug=SLUG, name="Métropole de Montpellier (synthétique)",
            description="Données synthétiques pour les mesures de performance."), codes)
        per = gap.territory_perimeter(session, SLUG)
        catchment = f"WITH {gap.catchment_cte(per.area_sql)} SELECT g FROM catchment"
        _producers(session, catchment, 10_000, 1,
                   per.area_params | {"radius_m": RADIUS_KM * 1000})
        _producers(session, "SELECT ST_Union(geom) AS g FROM commune", 20_000, 2, {})
        session.execute(text("""
            INSERT INTO farmland (commune_code, crop_group, hectares, year, source)
            SELECT c.code, crop, round((abs(hashtext(c.code || crop)) % 5000) / 10.0, 2), 2023,
                   :src
            FROM commune c, unnest(CAST(:crops AS text[])) AS crop"""),
            {"src": SOURCE, "crops": CROPS})
    with transaction(url) as session:
        session.execute(text("ANALYZE"))
    return url


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[min(len(timings) - 1, int(len(timings) * 0.95))], \
        result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    url = prepare()
    sc = gap.scenario(radius_km=RADIUS_KM)
    with transaction(url) as session:
        per = gap.territory_perimeter(session, SLUG)
        med, p95, analysis = timed(lambda: gap.analyse(session, gap.territory_perimeter(
            session, SLUG), sc), args.runs)
        counted = analysis.producers.counted
        producers, params = supply._producers_cte(gap.ANONYMOUS)
        plan = session.scalars(text(
            "EXPLAIN (ANALYZE, BUFFERS) " + gap.SUPPLY_SQL.format(producers=producers)),
            params | supply._crop_params(analysis.coefs)
            | {"catchment": gap.catchment(session, per, RADIUS_KM)}).all()
        codes = gap.department_communes(session, DEPARTMENTS)
        cmed, cp95, rows = timed(lambda: gap.commune_coverage(session, codes, sc),
                                 max(5, args.runs // 5))
    app = __import__("api.main", fromlist=["create_app"]).create_app(url)
    with TestClient(app) as client:
        client.get(f"/api/territories/{SLUG}/gap?radius_km={RADIUS_KM}")
        hmed, hp95, _ = timed(lambda: client.get(
            f"/api/territories/{SLUG}/gap?radius_km={RADIUS_KM}").raise_for_status(), args.runs)
        pmed, pp95, _ = timed(lambda: client.get(
            f"/territories/{SLUG}/gap?radius_km={RADIUS_KM}").raise_for_status(),
            max(5, args.runs // 3))
        cmed_http, cp95_http, _ = timed(lambda: client.get(
            "/api/gap/communes?departments=" + ",".join(DEPARTMENTS)).raise_for_status(),
            max(5, args.runs // 5))
    print(f"machine: {common.machine()}")
    print(f"territory {SLUG}: {len(per.communes)} communes, population {per.population}, "
          f"{counted} producers counted within {RADIUS_KM:g} km")
    print(f"gap of one territory (carto.gap.analyse): median {med:.1f} ms, p95 {p95:.1f} ms")
    print(f"  GET /api/territories/{SLUG}/gap (TestClient): median {hmed:.1f} ms, "
          f"p95 {hp95:.1f} ms")
    print(f"  GET /territories/{SLUG}/gap page (charts, SVG map of 2,000 producers): "
          f"median {pmed:.1f} ms, p95 {pp95:.1f} ms")
    print(f"coverage of {len(rows)} communes (carto.gap.commune_coverage): median {cmed:.0f} ms, "
          f"p95 {cp95:.0f} ms")
    print(f"  GET /api/gap/communes?departments=30,34,43,48: median {cmed_http:.0f} ms, "
          f"p95 {cp95_http:.0f} ms")
    print("plan of the catchment supply query:")
    print("\n".join("  " + line for line in plan))


if __name__ == "__main__":
    main()
