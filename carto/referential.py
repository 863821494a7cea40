"""Reference data: the vocabularies and the communes of departments 30, 34, 43 and 48."""

from pathlib import Path

import pyogrio
from shapely import make_valid
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import DATA_DIR, cache, places, vocab
from carto.text import fold

ADMIN_DIR = DATA_DIR / "geo" / "admin"
DEPARTMENTS = ("30", "34", "43", "48")
COMMUNE_POPULATION_YEAR = 2023
COMMUNE_POPULATION_SOURCE = "INSEE, population municipale 2023 (populations légales 2026)"


def sync_vocabularies(session: Session) -> None:
    """Categories and levels follow the CSV files; kinds are only added (admins may edit them)."""
    for i, term in enumerate(vocab.seed_kinds().values()):
        session.execute(
            text(
                """INSERT INTO resource_kind (code, label_fr, label_en, color, icon, sort_order)
                   VALUES (:code, :fr, :en, :color, :icon, :sort)
                   ON CONFLICT (code) DO NOTHING"""
            ),
            {
                "code": term.code,
                "fr": term.label_fr,
                "en": term.label_en,
                "color": term.extra["color"],
                "icon": term.extra["icon"],
                "sort": int(term.extra.get("sort_order") or i),
            },
        )
    vocab.KINDS.invalidate_on_commit(session)
    cache.edited(session)  # the kinds' labels, colours and pictograms on the maps
    for term in vocab.categories().values():
        session.execute(
            text(
                """INSERT INTO cooperation_category (code, label_fr, label_en, stakes_fr, sort_order)
                   VALUES (:code, :fr, :en, :stakes, :sort)
                   ON CONFLICT (code) DO UPDATE SET label_fr = EXCLUDED.label_fr,
                     label_en = EXCLUDED.label_en, stakes_fr = EXCLUDED.stakes_fr,
                     sort_order = EXCLUDED.sort_order"""
            ),
            {
                "code": term.code,
                "fr": term.label_fr,
                "en": term.label_en,
                "stakes": term.extra["stakes_fr"].split(";"),
                "sort": int(term.extra["sort_order"]),
            },
        )
    for level, term in vocab.levels().items():
        session.execute(
            text(
                """INSERT INTO cooperation_level (level, code, label_fr, label_en, color)
                   VALUES (:level, :code, :fr, :en, :color)
                   ON CONFLICT (level) DO UPDATE SET code = EXCLUDED.code,
                     label_fr = EXCLUDED.label_fr, label_en = EXCLUDED.label_en,
                     color = EXCLUDED.color"""
            ),
            {
                "level": level,
                "code": term.code,
                "fr": term.label_fr,
                "en": term.label_en,
                "color": term.extra["color"],
            },
        )


def commune_files() -> list[Path]:
    return [ADMIN_DIR / f"communes_{dept}.geojson" for dept in DEPARTMENTS]


def load_communes(session: Session, files: list[Path] | None = None) -> int:
    """Upsert every commune of the bundled files; returns how many rows were read."""
    rows = []
    for path in files or commune_files():
        frame = pyogrio.read_dataframe(path)
        for record in frame.itertuples(index=False):
            geometry = record.geometry
            if not geometry.is_valid:
                geometry = make_valid(geometry)
            if isinstance(geometry, Polygon):
                geometry = MultiPolygon([geometry])
            rows.append(
                {
                    "code": record.code_insee,
                    "name": record.nom,
                    "key": fold(record.nom),
                    "dept": record.departement,
                    "epci_code": record.epci_siren or None,
                    "epci_name": record.epci_nom or None,
                    "population": int(record.population_municipale),
                    "year": COMMUNE_POPULATION_YEAR,
                    "wkt": geometry.wkt,
                }
            )
    session.execute(
        text(
            """INSERT INTO commune (code, name, name_key, department, epci_code, epci_name,
                                    population, population_year, geom)
               VALUES (:code, :name, :key, :dept, :epci_code, :epci_name, :population, :year,
                       ST_Multi(ST_GeomFromText(:wkt, 4326)))
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,
                 name_key = EXCLUDED.name_key, department = EXCLUDED.department,
                 epci_code = EXCLUDED.epci_code, epci_name = EXCLUDED.epci_name,
                 population = EXCLUDED.population, population_year = EXCLUDED.population_year,
                 geom = EXCLUDED.geom
               WHERE (commune.name, commune.population, commune.epci_code)
                     IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.population, EXCLUDED.epci_code)
                  OR NOT ST_Equals(commune.geom, EXCLUDED.geom)"""
        ),
        rows,
    )
    places.COMMUNES.invalidate_on_commit(session)  # centres private persons are shown at, names
    cache.edited(session)
    return len(rows)
