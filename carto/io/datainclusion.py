"""data·inclusion (the national schema of social-inclusion structures and services, v1): every
public resource of a territory as a `structure`, its food offer as a `service`, each validated
by the `data-inclusion-schema` package's own pydantic models.

The crosswalk is data: data/io/datainclusion_kinds.csv (which kinds offer a food service, its
type, thematique, fees, reception mode) and data/io/datainclusion_networks.csv (names that
reveal a national network: Restos du cœur, Secours populaire, banques alimentaires, CCAS…), and
read backwards on import (data/io/datainclusion_network_kinds.csv: the kind a network says
when a structure comes without services, as in the published `structures.csv`).

Imports read a JSON document or the CSV of structures, through the same `structures_table`."""

import csv
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from carto.i18n import t
from carto.io.columns import IO_DIR, key
from carto.io.exports import collect
from carto.visibility import ANONYMOUS

if TYPE_CHECKING:
    from carto.io.readers import Table

SOURCE = "terreau"


@lru_cache
def kinds() -> dict[str, dict[str, str]]:
    with (IO_DIR / "datainclusion_kinds.csv").open(encoding="utf-8", newline="") as fh:
        return {row["kind"]: row for row in csv.DictReader(fh)}


@lru_cache
def networks() -> list[tuple[str, str]]:
    with (IO_DIR / "datainclusion_networks.csv").open(encoding="utf-8", newline="") as fh:
        return [(key(row["pattern"]), row["reseau_porteur"]) for row in csv.DictReader(fh)]


@lru_cache
def network_kinds() -> dict[str, str]:
    with (IO_DIR / "datainclusion_network_kinds.csv").open(encoding="utf-8", newline="") as fh:
        return {row["reseau_porteur"]: row["kind"] for row in csv.DictReader(fh)}


def _networks(name: str) -> set[str] | None:
    folded = key(name)
    found = {network for pattern, network in networks() if pattern in folded}
    return found or None


def _valid(model: Any, data: dict[str, Any], optional: tuple[str, ...]) -> dict[str, Any]:
    """The row as the model validates it; an optional field the model refuses (an e-mail or
    site it finds malformed) is left out rather than losing the row."""
    from pydantic import ValidationError

    data = {k: v for k, v in data.items() if v not in (None, "", [], set())}
    while True:
        try:
            return model.model_validate(data).model_dump(mode="json", exclude_none=True)  # type: ignore[no-any-return]
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
            if not bad or not bad <= set(optional):
                raise
            for field in bad:
                data.pop(field, None)


def export(session: Session, slug: str, lang: str = "fr") -> dict[str, list[dict[str, Any]]]:
    """`{"structures": [...], "services": [...]}` for the territory's public resources."""
    from data_inclusion.schema.v1 import Service, Structure

    data = collect(session, ANONYMOUS, slug)
    structures: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    for r in data.resources:
        sid = f"{SOURCE}--{r['id']}"
        updated = (r.get("updated_at") or "")[:10]
        place = {"commune": r.get("commune_name"), "code_insee": r.get("commune_code"),
                 "adresse": r.get("address"), "longitude": r.get("lon"),
                 "latitude": r.get("lat"), "telephone": r.get("phone"),
                 "courriel": r.get("email")}
        structures.append(_valid(Structure, {
            "source": SOURCE, "id": sid, "nom": r["name"][:150].ljust(3, "."),
            "date_maj": updated, "description": r.get("description"),
            "site_web": r.get("website"), "horaires_accueil": r.get("opening_hours"),
            "reseaux_porteurs": _networks(r["name"]), **place},
            ("courriel", "site_web", "telephone", "code_insee", "horaires_accueil")))
        offer = kinds().get(r["kind"])
        if offer is None:
            continue
        services.append(_valid(Service, {
            "source": SOURCE, "structure_id": sid, "id": f"{sid}--alimentation",
            "nom": t(offer["service_key"], lang), "date_maj": updated,
            "description": r.get("description") or t(offer["service_key"] + ".description",
                                                     lang, name=r["name"]),
            "type": offer["service_type"], "thematiques": {offer["thematiques"]},
            "frais": offer["frais"], "modes_accueil": {offer["modes_accueil"]},
            "horaires_accueil": r.get("opening_hours"), **place},
            ("courriel", "telephone", "code_insee", "horaires_accueil")))
    return {"structures": structures, "services": services}


# --- import: structures (and their services) → the rows of a resource import ------------------

def _kind_of(services: list[dict[str, Any]], networks: list[str]) -> str:
    """The resource kind a structure's services say (the crosswalk read backwards): food aid
    when it gives food, a grocery when the food is paid for, a garden for a workshop; else
    what its network says (Restos du cœur → food aid, CCAS → social service)."""
    for service in services:
        themes = set(_listed(service.get("thematiques")))
        if not any(t.startswith("equipement-et-alimentation") for t in themes):
            continue
        for kind, offer in kinds().items():
            if service.get("type") == offer["service_type"] and (
                    service.get("frais") in (None, "", offer["frais"])):
                return kind
    for network in networks:
        if network in network_kinds():
            return network_kinds()[network]
    return "social_service" if services else "association"


def _listed(value: Any) -> list[str]:
    """A list field as JSON gives it, or as a CSV cell writes it (`["a", "b"]`, `a,b`, `a|b`)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if not isinstance(value, str):
        return []
    parts = re.split(r"[,;|]", value.strip().strip("[]{}"))
    return [p.strip().strip("'\"").strip() for p in parts if p.strip().strip("'\"").strip()]


HEADER = ["external_id", "name", "kind", "description", "address", "insee", "commune",
          "lat", "lon", "phone", "email", "website", "opening_hours", "source_name"]
STRUCTURE_FIELDS = {"id", "nom", "source", "date_maj"}  # a header with these is data·inclusion's


def is_structures_header(header: list[str]) -> bool:
    return {h.strip().lower() for h in header} >= STRUCTURE_FIELDS


def structures_table(structures: Iterable[tuple[int, Any]], services: list[Any],
                     total: int | None) -> "Table":
    """(line, structure) pairs — from a JSON document or a CSV — as the rows the resource
    importer reads (its own field names as columns)."""
    from carto.io.pipeline import Row
    from carto.io.readers import Table

    by_structure: dict[str, list[dict[str, Any]]] = {}
    for service in services:
        if isinstance(service, dict):
            by_structure.setdefault(str(service.get("structure_id")), []).append(service)

    def gen() -> Any:
        for i, s in structures:
            if not isinstance(s, dict):
                continue
            values = {"external_id": s.get("id"), "name": s.get("nom"),
                      "kind": _kind_of(by_structure.get(str(s.get("id")), []),
                                       _listed(s.get("reseaux_porteurs"))),
                      "description": s.get("description"), "address": s.get("adresse"),
                      "insee": s.get("code_insee"), "commune": s.get("commune"),
                      "lat": s.get("latitude"), "lon": s.get("longitude"),
                      "phone": s.get("telephone"), "email": s.get("courriel"),
                      "website": s.get("site_web"), "opening_hours": s.get("horaires_accueil"),
                      "source_name": s.get("source")}
            yield Row(i, {k: "" if v is None else str(v) for k, v in values.items()})

    return Table(list(HEADER), gen(), total=total)


def rows(document: Any) -> "Table":
    """A data·inclusion document — `{"structures": [...], "services": [...]}` or a bare list of
    structures — as a table the resource importer reads."""
    from carto.errors import Invalid
    from carto.i18n import msg

    if isinstance(document, list):
        structures, services = document, list[Any]()
    elif isinstance(document, dict) and isinstance(document.get("structures"), list):
        structures, services = document["structures"], document.get("services") or []
    else:
        raise Invalid.field("file", msg("error.import.not_datainclusion"))
    return structures_table(enumerate(structures, start=1), services, len(structures))


def csv_rows(table: "Table") -> "Table":
    """The published `structures.csv` (a CSV table whose header is the schema's field names)
    as the same rows: lines stay the file's."""
    names = {h: h.strip().lower() for h in table.header}
    return structures_table(((row.line, {names.get(k, k): v for k, v in row.values.items()})
                             for row in table.rows), [], table.total)
