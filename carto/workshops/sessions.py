"""Creating, finding, joining and closing a workshop."""

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carto import params, permissions, territories, tokens, validation
from carto.errors import Conflict, FieldError, Invalid, NotFound
from carto.i18n import msg
from carto.models import ApiToken, Workshop, WorkshopParticipant
from carto.visibility import CONTRIBUTOR, Principal

# Read aloud without a doubt: no 0/O, no 1/l/I (the migration's CHECK holds the same alphabet).
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6  # 31**6: about 900 million codes; joining is rate-limited per address
PSEUDONYM_MAX = 40


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """What people type: lower case, spaces or a dash in the middle are the same code."""
    return code.strip().upper().replace(" ", "").replace("-", "")


def get(session: Session, code: str, lock: bool = False) -> Workshop:
    query = select(Workshop).where(Workshop.code == normalise_code(code))
    if lock:
        query = query.with_for_update(key_share=True)  # the one lock: carto.lifecycle
    found = session.scalar(query)
    if found is None:
        raise NotFound(msg("error.workshops.unknown", code=code))
    return found


def state(workshop: Workshop) -> str:
    return tokens.workshop_state(workshop)


def _datetime(value: Any, errors: validation.Collector, field: str) -> datetime | None:
    """RFC 3339 with its offset (carto.params.moment: the API documents `format: date-time`)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = params.moment(value, field)
        except Invalid as exc:
            errors.errors.extend(exc.errors)
            return None
    if parsed.tzinfo is None:
        errors.add(field, msg("error.workshops.timezone", value=value))
        return None
    return parsed


def clean(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    errors = validation.Collector()
    for key in data:
        if key not in ("territory", "title", "date", "place", "ends_at"):
            errors.add(key, msg("validation.extra_forbidden"))
    out: dict[str, Any] = {}
    slug = data.get("territory")
    territory_id = territories.id_of(session, slug) if isinstance(slug, str) else None
    if territory_id is None:
        errors.add("territory", msg("error.territories.unknown", slug=slug))
    out["territory_id"] = territory_id
    out["title"] = validation.name(data.get("title"), errors, "title")
    out["place"] = validation.optional_text(data.get("place"), errors, "place", 300)
    held_on = data.get("date")
    try:  # YYYY-MM-DD, the one parser of days (carto.params.day)
        out["held_on"] = held_on if isinstance(held_on, date) else \
            params.day(str(held_on), "date")
    except Invalid as exc:
        errors.errors.extend(exc.errors)
    ends_at = _datetime(data.get("ends_at"), errors, "ends_at")
    if ends_at is not None and ends_at <= datetime.now(UTC):
        errors.add("ends_at", msg("error.workshops.ends_in_past"))
    out["ends_at"] = ends_at
    errors.raise_if_any()
    return out


def create(session: Session, data: dict[str, Any], actor: Principal) -> Workshop:
    """A new workshop with a fresh join code; the facilitator is an editor of its territory."""
    values = clean(session, data)
    permissions.facilitate(actor, values["territory_id"])
    while True:  # a collision among ~900 million codes: draw again
        code = new_code()
        if session.scalar(select(Workshop.id).where(Workshop.code == code)) is None:
            break
    workshop = Workshop(code=code, created_by=actor.actor, **values)
    session.add(workshop)
    session.flush()
    return workshop


@dataclass
class Joined:
    participant: WorkshopParticipant
    token: str


def join(session: Session, code: str, pseudonym: Any) -> Joined:
    """A participant: a pseudonym only (no account, no e-mail), and a contributor token of the
    workshop's territory that writes until the workshop closes or ends."""
    workshop = get(session, code, lock=True)  # joins of one workshop queue: pseudonyms differ
    errors = validation.Collector()
    name = validation.name(pseudonym, errors, "pseudonym")
    if name is not None and len(name) > PSEUDONYM_MAX:
        errors.add("pseudonym", msg("error.workshops.pseudonym_long", max=PSEUDONYM_MAX))
    errors.raise_if_any()
    assert name is not None
    name = " ".join(name.split())
    if state(workshop) != "open":
        raise Conflict(msg("error.workshops.not_open", code=workshop.code))
    taken = session.scalar(select(WorkshopParticipant.id).where(
        WorkshopParticipant.workshop_id == workshop.id,
        func.lower(func.btrim(WorkshopParticipant.pseudonym)) == name.lower()))
    if taken is not None:
        raise Conflict(msg("error.workshops.pseudonym_taken", pseudonym=name),
                       [FieldError("pseudonym", msg("error.workshops.pseudonym_taken",
                                                    pseudonym=name))])
    new = tokens.create(session, CONTRIBUTOR, workshop.territory.slug,
                        f"atelier {workshop.code} · {name}")
    row = session.get(ApiToken, new.id)
    assert row is not None
    row.workshop_id = workshop.id
    participant = WorkshopParticipant(workshop_id=workshop.id, pseudonym=name, token_id=new.id)
    session.add(participant)
    session.flush()
    return Joined(participant, new.token)


def close(session: Session, code: str, actor: Principal) -> Workshop:
    """The facilitator ends the workshop: from the commit on, its tokens write nothing."""
    workshop = get(session, code, lock=True)
    permissions.facilitate(actor, workshop.territory_id)
    if workshop.closed_at is None:
        workshop.closed_at = datetime.now(UTC)
        workshop.closed_by = actor.actor
    return workshop


def provenance(session: Session, principal: Principal, code: Any,
               territory_ids: set[int]) -> int | None:
    """The workshop an addition comes from: the one its writer names by code (`workshop` in
    the body; the rule: carto.permissions.workshop_provenance), else the participant token's
    own, else none."""
    if code is None:
        return principal.workshop_id
    workshop = session.scalar(select(Workshop).where(
        Workshop.code == normalise_code(code))) if isinstance(code, str) else None
    if workshop is None:
        raise Invalid.field("workshop", msg("error.workshops.unknown", code=code))
    return permissions.workshop_provenance(principal, workshop, state(workshop), territory_ids)


def participants(session: Session, workshop_id: int) -> int:
    return session.scalar(select(func.count()).where(
        WorkshopParticipant.workshop_id == workshop_id)) or 0


def describe(session: Session, workshop: Workshop, base_url: str) -> dict[str, Any]:
    """What anyone holding the code may read: no participant, no token."""
    base = base_url.rstrip("/")
    return {
        "code": workshop.code,
        "title": workshop.title,
        "territory": workshop.territory.slug,
        "territory_name": workshop.territory.name,
        "date": workshop.held_on.isoformat(),
        "place": workshop.place,
        "ends_at": workshop.ends_at.isoformat(),
        "closed_at": workshop.closed_at.isoformat() if workshop.closed_at else None,
        "state": state(workshop),
        "participants": participants(session, workshop.id),
        "join_url": f"{base}/join/{workshop.code}",
        "qr_svg": f"{base}/workshops/{workshop.code}/qr.svg",
        "qr_png": f"{base}/workshops/{workshop.code}/qr.png",
    }
