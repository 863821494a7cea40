"""Import cooperation links from a second sheet or file: two resources (name, identifier or
id), a category, a level, a description.

Links are few (tens to hundreds per territory), so each goes through `carto.links.create` or
`update`, the life cycle every edit uses (level history, change log, duplicate check). A link
is **unchanged** when an active link of the same category already joins the pair with the same
level and description, **updated** when only those differ."""

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import links, vocab
from carto.errors import CartoError
from carto.i18n import Message, msg
from carto.io import columns, pipeline
from carto.io.columns import key
from carto.io.pipeline import CREATED, REJECTED, UNCHANGED, UPDATED, Rejected, Report, Row
from carto.io.readers import Table, unneutralised
from carto.models import Link, Territory
from carto.visibility import Principal

AMBIGUOUS = "ambiguous"
NAME = "link_columns"


def is_link_table(table: Table) -> bool:
    fields = set(columns.match(table.header, NAME).values())
    return {"source", "target"} <= fields and "name" not in columns.match(table.header).values()


class LinkImport:
    def __init__(self, session: Session, territory: Territory, table: Table, actor: Principal,
                 source_name: str, staging: str | None = None, lang: str = "fr") -> None:
        self.territory, self.actor, self.source_name, self.lang = (territory, actor,
                                                                   source_name, lang)
        self.mapping = columns.match(table.header, NAME)
        self.categories = {key(v): code for code, term in vocab.categories().items()
                           for v in (code, term.label_fr, term.label_en)}
        self.refs: dict[str, Any] = {}
        rows: list[Any] = list(session.execute(text(
            """SELECT r.id, r.name, r.external_id FROM resource r
               JOIN resource_territory rt ON rt.resource_id = r.id AND rt.territory_id = :t
               WHERE r.deleted_at IS NULL"""), {"t": territory.id}))
        if staging is not None:  # the resources of this same import (a dry run has no others)
            rows += session.execute(text(
                f"SELECT id, name, external_id FROM {staging} WHERE id IS NOT NULL")).all()
        names: dict[str, set[uuid.UUID]] = {}
        for rid, name, external_id in rows:
            self.refs[str(rid)] = rid
            if external_id:
                self.refs.setdefault(f"id:{external_id}", rid)
            names.setdefault(key(name), set()).add(rid)
        for name_key, ids in names.items():
            self.refs.setdefault(f"name:{name_key}", next(iter(ids)) if len(ids) == 1
                                 else AMBIGUOUS)
        self.seen: dict[tuple[Any, ...], int] = {}

    def _say(self, message: Message | str) -> str:
        return message.render(self.lang) if isinstance(message, Message) else message

    def _ref(self, raw: str, field: str) -> uuid.UUID:
        if not raw:
            raise Rejected(field, msg("error.import.link_end_missing"))
        found = self.refs.get(raw) or self.refs.get(f"id:{raw}") or self.refs.get(
            f"name:{key(raw)}")
        if found == AMBIGUOUS:
            raise Rejected(field, msg("error.import.link_end_ambiguous", value=raw))
        if found is None:
            raise Rejected(field, msg("error.import.link_end_unknown", value=raw))
        return found  # type: ignore[no-any-return]

    def check(self, row: Row) -> dict[str, Any]:
        v = {f: unneutralised(str(row.values.get(c) or "").strip())
             for c, f in self.mapping.items()}
        source, target = self._ref(v.get("source", ""), "source"), self._ref(
            v.get("target", ""), "target")
        if source == target:
            raise Rejected("target", msg("error.import.link_same_ends"))
        category = self.categories.get(key(v.get("category", "")))
        if category is None:
            raise Rejected("category", msg("error.import.unknown_code",
                                           value=v.get("category", "")))
        raw_level = v.get("level", "").removesuffix(".0")
        if not raw_level.isdigit() or int(raw_level) not in vocab.levels():
            raise Rejected("level", msg("error.import.bad_level", value=v.get("level", "")))
        pair = (min(str(source), str(target)), max(str(source), str(target)), category)
        if pair in self.seen:
            raise Rejected("target", msg("error.import.duplicate", line=self.seen[pair]))
        self.seen[pair] = row.line
        return {"source": source, "target": target, "category": category,
                "level": int(raw_level), "description": v.get("description") or None,
                "external_id": v.get("external_id") or None, "territory": self.territory.slug,
                "provenance": "import", "source_name": self.source_name}

    def stage(self, session: Session, batch: list[tuple[Row, Any]], report: Report) -> None:
        for row, payload in batch:
            label = f"{payload['source']} — {payload['target']}"
            existing = session.scalar(text(
                """SELECT id FROM link WHERE category = :c AND status = 'active'
                   AND deleted_at IS NULL AND ((source_id = :a AND target_id = :b)
                   OR (source_id = :b AND target_id = :a))"""),
                {"c": payload["category"], "a": payload["source"], "b": payload["target"]})
            try:
                if existing is not None:
                    link = session.get(Link, existing)
                    assert link is not None
                    same = (link.level, link.description) == (payload["level"],
                                                              payload["description"])
                    if not same and not report.dry_run:
                        links.update(session, existing, {
                            "level": payload["level"], "description": payload["description"]},
                            self.actor, None)
                    report.add(row.line, UNCHANGED if same else UPDATED, label, sheet=row.sheet)
                    continue
                if not report.dry_run:
                    with session.begin_nested():
                        links.create(session, payload, self.actor)
                report.add(row.line, CREATED, label, sheet=row.sheet)
            except CartoError as exc:
                report.add(row.line, REJECTED, label, exc.errors[0].field if exc.errors else None,
                           exc.errors[0].text(self.lang) if exc.errors else exc.detail_in(
                               self.lang), row.sheet)

    def check_all(self, session: Session, report: Report) -> None:
        pass

    def write(self, session: Session, report: Report) -> None:
        pass


def import_table(session: Session, table: Table, territory: Territory, actor: Principal,
                 source_name: str, dry_run: bool, lang: str = "fr",
                 staging: str | None = None) -> Report:
    importer = LinkImport(session, territory, table, actor, source_name, staging, lang)
    return pipeline.run(session, importer, table.rows, dry_run=dry_run, lang=lang)
