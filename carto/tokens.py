"""API tokens: random secrets shown once, stored as SHA-256 hashes, revocable."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carto import territories, vocab
from carto.errors import Invalid, NotFound
from carto.i18n import msg
from carto.models import ApiToken

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
        territory_id = territories.get(session, territory).id
    elif territory:
        territory_id = territories.get(session, territory).id
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name or f"{role}@{territory or '*'}", token_hash=hash_token(token),
                   role=role, territory_id=territory_id)
    session.add(row)
    session.flush()
    return NewToken(row.id, token, role, territory)


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
