"""API tokens: random secrets shown once, stored as SHA-256 hashes, revocable."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carto import territories, vocab
from carto.errors import Invalid, NotFound
from carto.i18n import msg
from carto.models import ApiToken
from carto.visibility import Principal

PREFIX = "terreau_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class NewToken:
    id: int
    token: str
    role: str
    territory: str | None


def create(session: Session, role: str, territory: str | None, name: str = "") -> NewToken:
    if role not in vocab.ROLES:
        raise Invalid.field("role", msg("error.tokens.role", value=role,
                                            expected=", ".join(vocab.ROLES)))
    territory_id = None
    if role != "admin":
        if not territory:
            raise Invalid.field("territory", msg("error.tokens.territory_needed", role=role))
        territory_id = territories.get(session, territory, "territory").id
    elif territory:
        territory_id = territories.get(session, territory, "territory").id
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name or f"{role}@{territory or '*'}", token_hash=hash_token(token),
                   role=role, territory_id=territory_id)
    session.add(row)
    session.flush()
    return NewToken(row.id, token, role, territory)


def principal(row: ApiToken) -> Principal:
    """Who a token acts as: the same for a Bearer header (api.auth) and a browser session
    (api.session)."""
    workshop = row.workshop
    return Principal(role=row.role, territory_id=row.territory_id,
                     actor=f"token:{row.id}:{row.name}", token_id=row.id,
                     workshop_id=workshop.id if workshop else None,
                     workshop_state=workshop_state(workshop) if workshop else None)


def workshop_state(workshop: Any) -> str:
    """"open" until the facilitator closes the workshop ("closed") or its end time passes
    ("ended"): its participants' tokens write only while it is open (carto.permissions)."""
    if workshop.closed_at is not None:
        return "closed"
    if workshop.ends_at <= datetime.now(UTC):
        return "ended"
    return "open"


def sign_in_link(base_url: str, token: str) -> str:
    """The link that opens a browser session (/sign-in?token=…, api.routers.session)."""
    return f"{base_url.rstrip('/')}/sign-in?token={token}"


def lookup(session: Session, token: str) -> ApiToken | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke(session: Session, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(msg("error.tokens.unknown", id=token_id))
    row.revoked_at = datetime.now(UTC)


def actor_name(actor: str) -> str:
    """Who an actor of the change log is, for people: a token's name ("token:3:Animatrice" →
    "Animatrice"), else the actor as recorded (a loader's name)."""
    prefix, _, rest = actor.partition(":")
    number, _, name = rest.partition(":")
    return name if prefix == "token" and number.isdigit() and name else actor
