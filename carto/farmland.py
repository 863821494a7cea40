"""`carto farmland import FILE`: farmland surfaces per commune and crop group, from a CSV.

Columns: `commune` (INSEE code) or `territory` (slug, for a sub-communal territory), `crop_group`
(data/vocab/crop_groups.csv), `hectares`, `year`, `source`. Comma or semicolon separated, UTF-8
(a BOM is fine), decimal point or comma.

- **transactional**: the whole file or nothing; every error is reported at once, each naming its
  line and column, before anything is written;
- **idempotent**: a row is keyed by (commune or territory, crop group, year, source); importing
  the same file again changes nothing, a corrected file updates the hectares in place.
"""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import vocab
from carto.errors import FieldError, Invalid

REQUIRED = ("crop_group", "hectares", "year", "source")
MAX_ERRORS = 50
EXTRA = "__extra__"


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    hectares: float = 0.0
    communes: set[str] = field(default_factory=set)


def _reader(content: str) -> "csv.DictReader[str]":
    first = content.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return csv.DictReader(io.StringIO(content), delimiter=delimiter, restkey=EXTRA)


def _number(raw: str) -> float | None:
    value = raw.strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "")
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    try:
        return float(value)
    except ValueError:
        return None


def parse(content: str, session: Session) -> list[dict[str, Any]]:
    """Check every line; return the rows to write, or raise Invalid listing every problem as
    `ligne N, colonne C` (line 1 is the header)."""
    reader = _reader(content)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    errors: list[FieldError] = []
    missing = [c for c in REQUIRED if c not in header]
    if "commune" not in header and "territory" not in header:
        missing.insert(0, "commune")
    if missing:
        raise Invalid(f"colonnes manquantes : {', '.join(missing)} (attendues : commune, "
                      "crop_group, hectares, year, source)",
                      [FieldError(f"ligne 1, colonne {c}", "colonne manquante") for c in missing])
    records = list(reader)
    codes = {(r.get("commune") or "").strip() for r in records} - {""}
    slugs = {(r.get("territory") or "").strip() for r in records} - {""}
    known_codes = set(session.scalars(text("SELECT code FROM commune WHERE code = ANY(:c)"),
                                      {"c": sorted(codes)}))
    territory_ids: dict[str, int] = dict(session.execute(text(
        "SELECT slug, id FROM territory WHERE slug = ANY(:s)"), {"s": sorted(slugs)}).all())
    crops = vocab.crop_groups()
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], int] = {}

    def fail(line: int, column: str, message: str) -> None:
        errors.append(FieldError(f"ligne {line}, colonne {column}", message))

    for i, rec in enumerate(records, start=2):
        extra = rec.pop(EXTRA, None)
        if extra:  # more cells than columns
            fail(i, header[-1], f"{len(extra)} cellule(s) de trop après la dernière colonne")
        clean = {k: (v or "").strip() for k, v in rec.items()}
        if not any(clean.values()):
            continue
        commune, slug = clean.get("commune", ""), clean.get("territory", "")
        before = len(errors)
        if bool(commune) == bool(slug):
            fail(i, "commune", "un code INSEE (commune) ou un territoire (territory), pas les deux"
                 if commune else "code INSEE manquant")
        elif commune and commune not in known_codes:
            fail(i, "commune", f"code INSEE inconnu : {commune!r}")
        elif slug and slug not in territory_ids:
            fail(i, "territory", f"territoire inconnu : {slug!r}")
        crop = clean["crop_group"]
        if crop not in crops:
            fail(i, "crop_group", f"groupe de cultures inconnu : {crop!r} (attendus : "
                                  f"{', '.join(crops)})")
        hectares = _number(clean["hectares"])
        if hectares is None or hectares != hectares:
            fail(i, "hectares", f"nombre attendu : {clean['hectares']!r}")
        elif not 0 <= hectares < 1e8:
            fail(i, "hectares", f"surface positive attendue : {clean['hectares']!r}")
        year = clean["year"]
        if not (year.isdigit() and 1900 <= int(year) <= 2100):
            fail(i, "year", f"année attendue (ex. 2023) : {year!r}")
        source = clean["source"]
        if not source:
            fail(i, "source", "la source est obligatoire (ex. « RPG 2023, IGN »)")
        elif len(source) > 500:
            fail(i, "source", "500 caractères au plus")
        if len(errors) > before:
            if len(errors) >= MAX_ERRORS:
                break
            continue
        assert hectares is not None
        key = (commune or None, territory_ids.get(slug), crop, int(year), source)
        if key in seen:
            fail(i, "crop_group", f"doublon de la ligne {seen[key]} (même commune, groupe, année "
                                  "et source)")
            continue
        seen[key] = i
        rows.append({"commune": commune or None, "tid": territory_ids.get(slug), "crop": crop,
                     "ha": round(hectares, 2), "year": int(year), "source": source})
    if errors:
        shown = "; ".join(f"{e.field} : {e.message}" for e in errors[:10])
        more = f" (et {len(errors) - 10} autres)" if len(errors) > 10 else ""
        raise Invalid(f"{len(errors)} erreur(s), rien n'a été importé : {shown}{more}", errors)
    if not rows:
        raise Invalid.field("ligne 2", "le fichier ne contient aucune ligne de données")
    return rows


UPSERT = """
    INSERT INTO farmland (commune_code, territory_id, crop_group, hectares, year, source)
    SELECT * FROM unnest(CAST(:communes AS varchar[]), CAST(:tids AS int[]),
                         CAST(:crops AS text[]), CAST(:has AS numeric[]),
                         CAST(:years AS smallint[]), CAST(:sources AS text[]))
    ON CONFLICT (COALESCE(commune_code, ''), COALESCE(territory_id, 0), crop_group, year, source)
    DO UPDATE SET hectares = EXCLUDED.hectares
    WHERE farmland.hectares IS DISTINCT FROM EXCLUDED.hectares
    RETURNING (xmax = 0) AS inserted"""


def write(session: Session, rows: Iterable[dict[str, Any]]) -> ImportReport:
    """Upsert the checked rows in the caller's transaction (one statement)."""
    rows = list(rows)
    report = ImportReport(rows=len(rows), hectares=sum(r["ha"] for r in rows),
                          communes={r["commune"] for r in rows if r["commune"]})
    flags = session.scalars(text(UPSERT), {
        "communes": [r["commune"] for r in rows], "tids": [r["tid"] for r in rows],
        "crops": [r["crop"] for r in rows], "has": [r["ha"] for r in rows],
        "years": [r["year"] for r in rows], "sources": [r["source"] for r in rows]}).all()
    report.inserted = sum(1 for f in flags if f)
    report.updated = len(flags) - report.inserted
    report.unchanged = report.rows - len(flags)
    return report


def import_text(session: Session, content: str) -> ImportReport:
    return write(session, parse(content.lstrip("\ufeff"), session))


def import_file(session: Session, path: Path) -> ImportReport:
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid.field("file", f"{path} n'est pas en UTF-8 ({exc})") from exc
    except OSError as exc:
        raise Invalid.field("file", f"fichier illisible : {path} ({exc.strerror})") from exc
    return import_text(session, content)
