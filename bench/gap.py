"""The gap analysis (issue 6) against the raw aggregate SQL over the same rows.

Data (clearly synthetic: source_name 'synthetic benchmark data', illustrative = true): the
territory `bench-gap` (the 31 communes of Montpellier Méditerranée Métropole), 10,000 producers
inside its 30 km catchment and 20,000 more spread over the four departments, each with one
declared output (a third also with a surface), and farmland for every commune and seven crop
groups; ANALYZEd.

- gap of one territory: `gap.analyse(territory_perimeter('bench-gap'), radius 30 km)`, the
  domain call the endpoint makes (perimeter, catchment, producers' supply, farmland, overrides,
  computation); the reference is one raw statement summing the outputs and surfaces of the
  producers in the 30 km buffer of the territory (`ST_Buffer` on geography, GiST index) and
  the territory's farmland, by group.
- coverage of every commune of 30, 34, 43, 48 (about 1,100): `gap.commune_coverage`; the
  reference is the raw per-commune aggregate (point-in-polygon join, grouped by commune and
  group, plus the farmland grouped by commune).
Both timed alternately with their reference on the same connection. Targets: <= 3x.

    python -m bench gap
"""

from typing import Any

from sqlalchemy import text

from bench import common
from bench.harness import Context, Figure, analyze, benchmark
from bench.synthetic import SOURCE
from carto import gap, territories
from carto.db import transaction
from carto.territories import TerritorySpec

SLUG = "bench-gap"
EPCI = "243400017"  # Montpellier Méditerranée Métropole
RADIUS_KM = 30.0
DEPARTMENTS = ["30", "34", "43", "48"]
FOODS = ["vegetables", "fruits", "potatoes", "cereals", "pulses", "oils", "sugar", "dairy",
         "eggs", "meat"]
CROPS = ["cereals", "vegetables", "orchards", "vines", "permanent_grassland", "fodder", "fallow"]

RAW_TERRITORY = """
    WITH p AS (
        SELECT r.id FROM resource r
        WHERE ST_Intersects(r.geom, (SELECT ST_Buffer(geom::geography, :radius_m)::geometry
                                     FROM territory WHERE slug = :slug))
          AND r.kind = 'producer')
    SELECT 'output', o.food_group, sum(o.kg_per_year) FROM resource_output o JOIN p
      ON p.id = o.resource_id GROUP BY o.food_group
    UNION ALL
    SELECT 'surface', s.crop_group, sum(s.hectares) FROM resource_surface s JOIN p
      ON p.id = s.resource_id GROUP BY s.crop_group
    UNION ALL
    SELECT 'farmland', f.crop_group, sum(f.hectares) FROM farmland f
      JOIN territory_commune tc ON tc.commune_code = f.commune_code
      JOIN territory t ON t.id = tc.territory_id AND t.slug = :slug
    GROUP BY f.crop_group"""

RAW_COMMUNES = """
    WITH p AS (SELECT r.id, c.code FROM commune c JOIN resource r ON ST_Intersects(r.geom, c.geom)
               WHERE c.department = ANY(:departments) AND r.kind = 'producer')
    SELECT 'output', p.code, o.food_group, sum(o.kg_per_year) FROM resource_output o JOIN p
      ON p.id = o.resource_id GROUP BY p.code, o.food_group
    UNION ALL
    SELECT 'surface', p.code, s.crop_group, sum(s.hectares) FROM resource_surface s JOIN p
      ON p.id = s.resource_id GROUP BY p.code, s.crop_group
    UNION ALL
    SELECT 'farmland', f.commune_code, f.crop_group, sum(f.hectares) FROM farmland f
      JOIN commune c ON c.code = f.commune_code WHERE c.department = ANY(:departments)
    GROUP BY f.commune_code, f.crop_group"""


def _producers(session: Any, area_sql: str, count: int, seed: int) -> None:
    foods = "ARRAY[" + ",".join(f"'{f}'" for f in FOODS) + "]"
    crops = "ARRAY['vegetables','orchards','cereals','permanent_grassland']"
    session.execute(text(f"""
        CREATE TEMP TABLE pts ON COMMIT DROP AS
        SELECT gen_random_uuid() AS id, (d).geom AS geom, row_number() OVER () AS n
        FROM (SELECT ST_Dump(ST_GeneratePoints(g, :count, :seed)) AS d FROM ({area_sql}) a) x"""),
        {"count": count, "seed": seed, "slug": SLUG, "radius_m": RADIUS_KM * 1000})
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


def fill(url: str, in_catchment: int, spread: int) -> None:
    with transaction(url) as session:
        if session.scalar(text("SELECT 1 FROM territory WHERE slug = :s"), {"s": SLUG}):
            return  # a kept database (--keep): filled by an earlier run
        codes = list(session.scalars(text("SELECT code FROM commune WHERE epci_code = :e"),
                                     {"e": EPCI}))
        territories.create_from_communes(session, TerritorySpec(
            slug=SLUG, name="Métropole de Montpellier (synthétique)",
            description="Données synthétiques pour les mesures de performance."), codes)
        _producers(session, """SELECT ST_Buffer(geom::geography, :radius_m)::geometry AS g
                               FROM territory WHERE slug = :slug""", in_catchment, 1)
        _producers(session, "SELECT ST_Union(geom) AS g FROM commune", spread, 2)
        session.execute(text("""
            INSERT INTO farmland (commune_code, crop_group, hectares, year, source)
            SELECT c.code, crop, round((abs(hashtext(c.code || crop)) % 5000) / 10.0, 2), 2023,
                   :src
            FROM commune c, unnest(CAST(:crops AS text[])) AS crop"""),
            {"src": SOURCE, "crops": CROPS})
    analyze(url)


@benchmark("gap", "gap analysis (issue 6)")
def run(ctx: Context) -> list[Figure]:
    in_catchment, spread = ctx.size(10_000), ctx.size(20_000)
    ctx.log(f"   filling {in_catchment} + {spread} producers, farmland of every commune")
    fill(ctx.url, in_catchment, spread)
    runs = ctx.size(30, minimum=3)
    sc = gap.scenario(radius_km=RADIUS_KM)
    with transaction(ctx.url) as session:
        def ours() -> Any:
            return gap.analyse(session, gap.territory_perimeter(session, SLUG), sc)

        def raw() -> Any:
            return session.execute(text(RAW_TERRITORY), {
                "slug": SLUG, "radius_m": RADIUS_KM * 1000}).all()

        analysis_ms, raw_ms = common.interleaved([ours, raw], runs)
        counted = ours().producers.counted
        codes = gap.department_communes(session, DEPARTMENTS)

        def ours_communes() -> Any:
            return gap.commune_coverage(session, codes, sc)

        def raw_communes() -> Any:
            return session.execute(text(RAW_COMMUNES), {"departments": DEPARTMENTS}).all()

        crun = max(3, runs // 5)
        communes_ms, raw_communes_ms = common.interleaved([ours_communes, raw_communes], crun)
    ctx.details.append(
        f"{in_catchment:,} producers generated in the catchment of `{SLUG}` + {spread:,} "
        f"spread, {counted:,} counted within {RADIUS_KM:g} km; medians of {runs} and "
        f"{crun} alternating runs; {len(codes):,} communes.")
    return [
        Figure("gap.territory_ms", f"gap of one territory (`gap.analyse`, {RADIUS_KM:g} km)",
               analysis_ms, raw_ms, "raw aggregate SQL over the same producers and farmland",
               "ms", at_most=3),
        Figure("gap.communes_ms", f"coverage of {len(codes):,} communes (`gap.commune_coverage`)",
               communes_ms, raw_communes_ms, "raw per-commune aggregate SQL", "ms", at_most=3),
    ]
