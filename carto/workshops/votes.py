"""One person, one vote: the facilitator's questions, each participant token's vote (voting
again replaces it until the question closes), the tally without names."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from carto import permissions, validation
from carto.errors import Conflict, FieldError, Invalid, NotFound
from carto.i18n import msg
from carto.models import Workshop, WorkshopParticipant, WorkshopQuestion
from carto.visibility import Principal
from carto.workshops import sessions

OPTION_MAX = 200
OPTIONS_MAX = 20


def ask(session: Session, code: str, actor: Principal, question: Any,
        options: Any) -> WorkshopQuestion:
    """A new open question; the one that was open closes (one question at a time on the
    projector)."""
    workshop = sessions.get(session, code)
    permissions.facilitate(actor, workshop.territory_id)
    errors = validation.Collector()
    wording = validation.name(question, errors, "text")
    if wording is not None and len(wording) > 300:
        errors.add("text", msg("error.validation.text_too_long", max=300))
    cleaned: list[str] = []
    if not isinstance(options, list) or not 2 <= len(options) <= OPTIONS_MAX:
        errors.add("options", msg("error.workshops.options", max=OPTIONS_MAX))
    else:
        for i, option in enumerate(options):
            if not isinstance(option, str) or not option.strip() or len(option) > OPTION_MAX:
                errors.add(f"options[{i}]", msg("error.workshops.option_text", max=OPTION_MAX))
            elif option.strip() in cleaned:
                errors.add(f"options[{i}]", msg("error.workshops.option_twice"))
            else:
                cleaned.append(option.strip())
    errors.raise_if_any()
    if sessions.state(workshop) != "open":
        raise Conflict(msg("error.workshops.not_open", code=workshop.code))
    now = datetime.now(UTC)
    session.execute(update(WorkshopQuestion).where(
        WorkshopQuestion.workshop_id == workshop.id, WorkshopQuestion.closed_at.is_(None))
        .values(closed_at=now))
    row = WorkshopQuestion(workshop_id=workshop.id, text=wording, options=cleaned,
                           created_by=actor.actor)
    session.add(row)
    session.flush()
    return row


def get(session: Session, workshop: Workshop, question_id: int,
        lock: bool = False) -> WorkshopQuestion:
    query = select(WorkshopQuestion).where(WorkshopQuestion.id == question_id,
                                           WorkshopQuestion.workshop_id == workshop.id)
    if lock:
        query = query.with_for_update(key_share=True)  # the one lock: carto.lifecycle
    found = session.scalar(query)
    if found is None:
        raise NotFound(msg("error.workshops.question_unknown", id=question_id))
    return found


def close(session: Session, code: str, question_id: int, actor: Principal) -> WorkshopQuestion:
    workshop = sessions.get(session, code)
    permissions.facilitate(actor, workshop.territory_id)
    question = get(session, workshop, question_id, lock=True)
    if question.closed_at is None:
        question.closed_at = datetime.now(UTC)
    return question


def vote(session: Session, code: str, question_id: int, actor: Principal,
         option: Any) -> dict[str, Any]:
    """The participant's vote, replacing its earlier one: one row per (question, participant),
    an upsert, so two votes sent together still leave one."""
    workshop = sessions.get(session, code)
    permissions.vote(actor, workshop.id)
    question = get(session, workshop, question_id, lock=True)  # the close waits, or we do
    if isinstance(option, bool) or not isinstance(option, int) \
            or not 0 <= option < len(question.options):
        raise Invalid.field("option", msg("error.workshops.option_unknown", value=option,
                                          count=len(question.options)))
    if question.closed_at is not None:
        raise Conflict(msg("error.workshops.question_closed"),
                       [FieldError("question", msg("error.workshops.question_closed"))])
    participant = session.scalar(select(WorkshopParticipant.id).where(
        WorkshopParticipant.token_id == actor.token_id))
    if participant is None:  # a workshop token always has its participant row
        raise NotFound(msg("error.workshops.question_unknown", id=question_id))
    session.execute(text("""
        INSERT INTO workshop_vote (question_id, participant_id, option)
        VALUES (:q, :p, :o)
        ON CONFLICT (question_id, participant_id)
        DO UPDATE SET option = EXCLUDED.option, voted_at = now()"""),
        {"q": question.id, "p": participant, "o": option})
    return tally(session, workshop, question)


def tally(session: Session, workshop: Workshop, question: WorkshopQuestion) -> dict[str, Any]:
    """Votes per option and the number of voters: no names, no tokens."""
    counts: dict[int, int] = dict(session.execute(text(
        "SELECT option, count(*) FROM workshop_vote WHERE question_id = :q GROUP BY option"),
        {"q": question.id}).all())
    return {
        "id": question.id,
        "text": question.text,
        "open": question.closed_at is None and sessions.state(workshop) == "open",
        "options": [{"index": i, "label": label, "votes": int(counts.get(i, 0))}
                    for i, label in enumerate(question.options)],
        "voters": int(sum(counts.values())),
    }


def questions(session: Session, workshop: Workshop) -> list[WorkshopQuestion]:
    return list(session.scalars(select(WorkshopQuestion).where(
        WorkshopQuestion.workshop_id == workshop.id).order_by(WorkshopQuestion.id)))


def open_question(session: Session, workshop: Workshop) -> dict[str, Any] | None:
    found = session.scalar(select(WorkshopQuestion).where(
        WorkshopQuestion.workshop_id == workshop.id, WorkshopQuestion.closed_at.is_(None))
        .order_by(WorkshopQuestion.id.desc()).limit(1))
    return tally(session, workshop, found) if found is not None else None
