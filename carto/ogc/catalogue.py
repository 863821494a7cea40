"""The collections served at /ogc: which data each one holds, which simple properties filter
it, and its extent as the principal may see it (private persons at their shown position)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import vocab
from carto.errors import NotFound
from carto.i18n import msg, t
from carto.visibility import Principal, link_predicate, resource_predicate, shown_geom

RESOURCES, LINKS, TERRITORIES, COMMUNES = "resources", "links", "territories", "communes"
KIND_PREFIX = "resources-"


@dataclass(frozen=True)
class Filter:
    """A simple property filter of `items` (`?kind=producer,shop`): equality, commas for OR."""

    name: str
    type: str  # "string" or "integer" (OpenAPI schema type)
    description: str
    values: tuple[str, ...] = ()  # the allowed values when the vocabulary is fixed


TERRITORY = Filter("territory", "string", "territory slug (see the territories collection)")
RESOURCE_STATUS = Filter("status", "string", "active or closed", vocab.RESOURCE_STATUSES)
COMMUNE = Filter("commune_code", "string", "INSEE code of the commune")


def _resource_filters(with_kind: bool) -> tuple[Filter, ...]:
    kind = Filter("kind", "string", "resource kind code (see /api/kinds)")
    return ((kind,) if with_kind else ()) + (TERRITORY, RESOURCE_STATUS, COMMUNE)


def _link_filters() -> tuple[Filter, ...]:
    return (Filter("category", "string", "cooperation category", tuple(vocab.categories())),
            Filter("level", "integer", "level on the five-step ladder",
                   tuple(str(level) for level in vocab.levels())),
            TERRITORY, Filter("status", "string", "active or ended", vocab.LINK_STATUSES))


@dataclass(frozen=True)
class Collection:
    id: str
    source: str  # one of RESOURCES, LINKS, TERRITORIES, COMMUNES
    title_fr: str
    title_en: str
    description_fr: str
    description_en: str
    geometry: str  # the GeoJSON geometry type of every feature
    filters: tuple[Filter, ...]
    temporal: bool = True  # has a last-update time (`datetime` filters on it)
    kind: str | None = None  # resources-<kind>: that kind only

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_fr

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" else self.description_fr

    def filter(self, name: str) -> Filter | None:
        return next((f for f in self.filters if f.name == name), None)


def _fixed() -> list[Collection]:
    def text_of(key: str) -> tuple[str, str]:
        return t(key, "fr"), t(key, "en")

    return [
        Collection(TERRITORIES, TERRITORIES, *text_of("ogc.territories.title"),
                   *text_of("ogc.territories.description"), "MultiPolygon",
                   (Filter("level", "string", "commune, intercommunality, neighbourhood or custom",
                           vocab.TERRITORY_LEVELS),)),
        Collection(RESOURCES, RESOURCES, *text_of("ogc.resources.title"),
                   *text_of("ogc.resources.description"), "Point", _resource_filters(True)),
        Collection(LINKS, LINKS, *text_of("ogc.links.title"), *text_of("ogc.links.description"),
                   "LineString", _link_filters()),
        Collection(COMMUNES, COMMUNES, *text_of("ogc.communes.title"),
                   *text_of("ogc.communes.description"), "MultiPolygon",
                   (Filter("department", "string", "department code (30, 34, 43, 48)"),
                    Filter("epci_code", "string", "SIREN code of the intercommunality")),
                   temporal=False),
    ]


def collections(session: Session) -> list[Collection]:
    """Every collection, the kinds read from the database (admins may add some)."""
    kinds = [(k.code, k.label_fr, k.label_en) for k in vocab.resource_kinds(session).values()]
    fixed = _fixed()
    by_kind = [
        Collection(f"{KIND_PREFIX}{code}", RESOURCES, label_fr,
                   label_en, t("ogc.kind.description", "fr", kind=label_fr),
                   t("ogc.kind.description", "en", kind=label_en), "Point",
                   _resource_filters(False), kind=code)
        for code, label_fr, label_en in kinds]
    return fixed[:3] + by_kind + fixed[3:]


def get(session: Session, collection_id: str) -> Collection:
    found = next((c for c in collections(session) if c.id == collection_id), None)
    if found is None:
        raise NotFound(msg("error.ogc.collection_unknown", id=collection_id))
    return found


Extent = tuple[list[float] | None, list[datetime | None]]


def _bbox(box: Any) -> list[float] | None:
    if box is None:
        return None
    return [round(float(v), 6) for v in box]


def extents(session: Session, principal: Principal) -> dict[str, Extent]:
    """Extent of each collection, positions as shown to the principal: one query per source,
    the kinds grouped in one pass."""
    out: dict[str, Extent] = {}
    visible, params = resource_predicate(principal, "r")
    rows = session.execute(text(f"""
        SELECT agg.kind, ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1,
               first, last
        FROM (SELECT r.kind, ST_Extent({shown_geom(principal, "r")}) AS e,
                     min(r.updated_at) AS first, max(r.updated_at) AS last
              FROM resource r WHERE {visible} GROUP BY ROLLUP (r.kind)) agg(kind, e, first, last)
        """), params).all()
    for kind, x0, y0, x1, y1, first, last in rows:
        key = RESOURCES if kind is None else f"{KIND_PREFIX}{kind}"
        out[key] = (_bbox((x0, y0, x1, y1)) if x0 is not None else None, [first, last])
    lvisible, lparams = link_predicate(principal, "l", "s", "t")
    row = session.execute(text(f"""
        SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), first, last FROM (
          SELECT ST_Extent(ST_Collect({shown_geom(principal, "s")}, {shown_geom(principal, "t")}))
                 AS e, min(l.updated_at) AS first, max(l.updated_at) AS last
          FROM link l JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
          WHERE {lvisible}) agg"""), lparams).one()
    out[LINKS] = (_bbox(row[:4]) if row[0] is not None else None, [row[4], row[5]])
    row = session.execute(text("""
        SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), first, last FROM (
          SELECT ST_Extent(geom) AS e, min(created_at) AS first, max(created_at) AS last
          FROM territory) agg""")).one()
    out[TERRITORIES] = (_bbox(row[:4]) if row[0] is not None else None, [row[4], row[5]])
    row = session.execute(text("""
        SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
        FROM (SELECT ST_Extent(geom) AS e FROM commune) agg""")).one()
    out[COMMUNES] = (_bbox(row) if row[0] is not None else None, [None, None])
    return out
