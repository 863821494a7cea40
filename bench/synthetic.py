"""Clearly synthetic data for benchmarks: resources spread inside a territory, random links.

Every row is marked: provenance 'import', source_name 'synthetic benchmark data',
illustrative = true, names "Ressource synthétique #n". Generated in SQL (ST_GeneratePoints), so
100,000 resources take seconds.

    python -m bench.synthetic --resources 100000 --links 200000 --territory bench-occitanie
"""

import argparse
import time

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from carto import territories
from carto.db import transaction
from carto.models import Commune, Territory
from carto.territories import TerritorySpec

SOURCE = "synthetic benchmark data"

KIND_WEIGHTS = [
    ("producer", 0.30), ("shared_garden", 0.08), ("premises", 0.05), ("tiers_lieu", 0.02),
    ("food_aid", 0.15), ("social_grocery", 0.05), ("purchasing_group", 0.05), ("shop", 0.12),
    ("market", 0.05), ("public_body", 0.05), ("social_service", 0.04), ("association", 0.04),
]
FOOD = ["vegetables", "fruits", "potatoes", "cereals", "pulses", "oils", "sugar", "dairy",
        "eggs", "meat"]


def ensure_territory(session: Session, slug: str, departments: list[str]) -> Territory:
    existing = session.scalar(select(Territory).where(Territory.slug == slug))
    if existing is not None:
        return existing
    codes = list(session.scalars(select(Commune.code).where(Commune.department.in_(departments))))
    return territories.create_from_communes(
        session, TerritorySpec(slug=slug, name=f"Synthétique ({', '.join(departments)})",
                               description="Données synthétiques pour les mesures de performance."),
        codes)


def _kind_case() -> str:
    cumulative, parts = 0.0, []
    for code, weight in KIND_WEIGHTS:
        cumulative += weight
        parts.append(f"WHEN u < {cumulative:.4f} THEN '{code}'")
    return "CASE " + " ".join(parts) + " ELSE 'association' END"


def add_resources(session: Session, territory: Territory, count: int, seed: int = 42) -> int:
    session.execute(text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000})
    session.execute(text(f"""
        CREATE TEMP TABLE synth ON COMMIT DROP AS
        SELECT gen_random_uuid() AS id, (d).geom AS geom, random() AS u,
               row_number() OVER () + (SELECT count(*) FROM resource
                                       WHERE source_name = '{SOURCE}') AS n
        FROM (SELECT ST_Dump(ST_GeneratePoints(geom, :count, :seed)) AS d
              FROM territory WHERE id = :tid) pts"""), {"count": count, "seed": seed,
                                                         "tid": territory.id})
    foods = "ARRAY[" + ",".join(f"'{f}'" for f in FOOD) + "]"
    session.execute(text(f"""
        INSERT INTO resource (id, name, kind, description, geom, location_precision, products,
                              illustrative, provenance, source_name, external_id, created_by,
                              updated_by, opening_hours, access_conditions)
        SELECT id, 'Ressource synthétique #' || n, {_kind_case()},
               'Donnée synthétique générée pour les mesures de performance.', geom, 'exact',
               CASE WHEN u < 0.30 OR (u >= 0.83 AND u < 0.95)
                    THEN ARRAY[({foods})[1 + (n % 10)], ({foods})[1 + ((n * 7) % 10)]]
                    ELSE '{{}}' END,
               true, 'import', '{SOURCE}', 'synthetic-' || n, 'bench', 'bench',
               CASE WHEN n % 3 = 0 THEN 'Mo-Fr 09:00-12:00,14:00-18:00; PH off' END,
               CASE WHEN u >= 0.30 AND u < 0.50 THEN ARRAY['unconditional'] ELSE '{{}}' END
        FROM synth"""))
    session.execute(text("""
        UPDATE resource r SET commune_code = c.code
        FROM synth s JOIN commune c ON ST_Intersects(c.geom, s.geom) WHERE r.id = s.id"""))
    session.execute(text("""
        INSERT INTO resource_territory (resource_id, territory_id)
        SELECT id, :tid FROM synth"""), {"tid": territory.id})
    session.execute(text("""
        INSERT INTO resource_output (resource_id, food_group, kg_per_year, year, source)
        SELECT r.id, r.products[1], 1000 + (abs(hashtext(r.id::text)) % 50000), 2024, :src
        FROM synth s JOIN resource r ON r.id = s.id
        WHERE r.kind = 'producer' AND cardinality(r.products) > 0"""), {"src": SOURCE})
    return count


def add_links(session: Session, territory: Territory, count: int) -> int:
    """`count` random links between the territory's synthetic resources (duplicates of an
    active pair and category skipped, so a few fewer), through an indexed temporary table:
    200,000 in seconds."""
    session.execute(text("""
        CREATE TEMP TABLE pool ON COMMIT DROP AS
        SELECT r.id, row_number() OVER (ORDER BY r.id) AS i
        FROM resource r JOIN resource_territory rt ON rt.resource_id = r.id
        WHERE rt.territory_id = :tid AND r.source_name = :src"""),
        {"tid": territory.id, "src": SOURCE})
    session.execute(text("CREATE UNIQUE INDEX ON pool (i)"))
    total = session.execute(text("SELECT count(*) FROM pool")).scalar_one()
    result = session.execute(text("""
        WITH pairs AS MATERIALIZED (
            SELECT g, 1 + floor(random() * :total)::bigint AS a,
                   1 + floor(random() * :total)::bigint AS b
            FROM generate_series(1, :count) g)
        INSERT INTO link (id, source_id, target_id, category, level, territory_id,
                          description, provenance, source_name, created_by, updated_by)
        SELECT gen_random_uuid(), pa.id, pb.id,
               (ARRAY['aid_associations','territorial_structures','public_associations',
                      'residents_volunteers','producers_suppliers',
                      'social_workers_volunteers'])[1 + (p.g % 6)],
               1 + (p.g % 5), :tid, 'Lien synthétique', 'import', :src, 'bench', 'bench'
        FROM pairs p JOIN pool pa ON pa.i = p.a JOIN pool pb ON pb.i = p.b
        WHERE pa.id <> pb.id
        ON CONFLICT DO NOTHING"""), {"tid": territory.id, "src": SOURCE, "count": count,
                                    "total": total})
    session.execute(text("DROP TABLE pool"))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def fill_territory(session: Session, slug: str, departments: list[str], resources: int,
                   links: int = 0) -> Territory:
    """The territory with (at least) `resources` synthetic resources and `links` links: only
    what is missing is added, so a kept benchmark database (`--keep`) is reused as it is."""
    territory = ensure_territory(session, slug, departments)
    have = session.scalar(text("""
        SELECT count(*) FROM resource_territory rt JOIN resource r ON r.id = rt.resource_id
        WHERE rt.territory_id = :t AND r.source_name = :s"""), {"t": territory.id, "s": SOURCE})
    if (have or 0) < resources:
        add_resources(session, territory, resources - (have or 0), seed=42 + (have or 0))
    have_links = session.scalar(text("SELECT count(*) FROM link WHERE territory_id = :t"),
                                {"t": territory.id}) or 0
    if links and have_links < links * 0.99:  # a few random pairs repeat: skipped, not retried
        add_links(session, territory, links - have_links)
    return territory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--links", type=int, default=0)
    parser.add_argument("--territory", default="bench-occitanie")
    parser.add_argument("--departments", default="30,34,43,48")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    started = time.perf_counter()
    with transaction() as session:
        territory = ensure_territory(session, args.territory, args.departments.split(","))
        add_resources(session, territory, args.resources, args.seed)
        made = add_links(session, territory, args.links) if args.links else 0
        session.execute(text("ANALYZE"))
    print(f"{args.resources} resources, {made} links in {args.territory} "
          f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
