"""/api/workshops (issue 14): create, read, join (a pseudonym → a token), close, questions and
votes, the live feed (JSON to poll, and server-sent events), the moderation queue and the
summary. The rules are carto.workshops' and carto.permissions'; joining and voting are
rate-limited (api.ratelimit)."""

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sse_starlette.sse import EventSourceResponse

from api.auth import PrincipalDep, WriterDep
from api.deps import AsyncReadsDep, SessionDep, read_briefly
from api.http import jsonable
from api.ratelimit import JoinRateDep, VoteRateDep
from api.schemas import JoinIn, QuestionIn, VoteIn, WorkshopIn
from carto.visibility import Principal
from carto.workshops import feed, sessions, votes

router = APIRouter(prefix="/api/workshops", tags=["workshops"])

# A token in the answer: never cached, never in a shared cache.
NO_STORE = {"Cache-Control": "no-store"}
POLL_S = 1.0  # how often a live stream looks for a change (the marker, cached per process)


def _workshop(session: Session, request: Request, code: str) -> dict[str, Any]:
    workshop = sessions.get(session, code)
    out = sessions.describe(session, workshop, str(request.base_url))
    out["question"] = votes.open_question(session, workshop)
    out["counters"] = feed.counters(session, workshop.id)
    return out


@router.post("", status_code=201, summary="Create a workshop (an editor of the territory): "
                                           "its join code, join URL and QR codes")
def create_workshop(request: Request, body: WorkshopIn, session: SessionDep,
                    principal: WriterDep) -> JSONResponse:
    workshop = sessions.create(session, body.model_dump(), principal)
    out = sessions.describe(session, workshop, str(request.base_url))
    return JSONResponse(jsonable(out), status_code=201,
                        headers={"Location": f"/api/workshops/{workshop.code}"})


@router.get("/{code}", summary="A workshop: what anyone holding its code may read (no names)")
def get_workshop(request: Request, code: str, session: SessionDep) -> JSONResponse:
    return JSONResponse(jsonable(_workshop(session, request, code)))


@router.post("/{code}/join", status_code=201,
             summary="Join with a pseudonym: a contributor token of the workshop's territory, "
                     "writing until the workshop closes or ends (shown once; keep it)")
def join_workshop(code: str, body: JoinIn, session: SessionDep,
                  _rate: JoinRateDep) -> JSONResponse:
    joined = sessions.join(session, code, body.pseudonym)
    workshop = sessions.get(session, code)
    return JSONResponse({"token": joined.token, "pseudonym": joined.participant.pseudonym,
                         "code": workshop.code, "territory": workshop.territory.slug,
                         "expires_at": workshop.ends_at.isoformat()},
                        status_code=201, headers=NO_STORE)


@router.post("/{code}/close", summary="Close the workshop (its facilitators): its tokens "
                                      "stop writing")
def close_workshop(request: Request, code: str, session: SessionDep,
                   principal: WriterDep) -> JSONResponse:
    workshop = sessions.close(session, code, principal)
    return JSONResponse(jsonable(sessions.describe(session, workshop, str(request.base_url))))


@router.post("/{code}/questions", status_code=201,
             summary="Open a question with its options (the one open before closes)")
def ask_question(code: str, body: QuestionIn, session: SessionDep,
                 principal: WriterDep) -> JSONResponse:
    question = votes.ask(session, code, principal, body.text, body.options)
    workshop = sessions.get(session, code)
    return JSONResponse(votes.tally(session, workshop, question), status_code=201)


@router.get("/{code}/questions/{question_id}",
            summary="A question's tally: votes per option and voters, without names")
def get_question(code: str, question_id: int, session: SessionDep) -> JSONResponse:
    workshop = sessions.get(session, code)
    return JSONResponse(votes.tally(session, workshop, votes.get(session, workshop,
                                                                 question_id)))


@router.post("/{code}/questions/{question_id}/vote",
             summary="Vote (a participant's token): voting again replaces the vote until the "
                     "question closes")
def vote(code: str, question_id: int, body: VoteIn, session: SessionDep, principal: WriterDep,
         _rate: VoteRateDep) -> JSONResponse:
    return JSONResponse(votes.vote(session, code, question_id, principal, body.option))


@router.post("/{code}/questions/{question_id}/close", summary="Close a question (its "
                                                                "facilitators)")
def close_question(code: str, question_id: int, session: SessionDep,
                   principal: WriterDep) -> JSONResponse:
    question = votes.close(session, code, question_id, principal)
    workshop = sessions.get(session, code)
    return JSONResponse(votes.tally(session, workshop, question))


def feed_body(session: Session, principal: Principal, code: str) -> dict[str, Any]:
    workshop = sessions.get(session, code)
    out = feed.items(session, principal, workshop.id)
    out["marker"] = feed.marker(session, workshop.id)
    out["state"] = sessions.state(workshop)
    out["counters"] = feed.counters(session, workshop.id)
    out["question"] = votes.open_question(session, workshop)
    return out


@router.get("/{code}/feed", summary="What the workshop added, as the caller may see it "
                                    "(participants: the others' additions waiting too); "
                                    "poll it, or follow /events")
def get_feed(code: str, session: SessionDep, principal: PrincipalDep) -> JSONResponse:
    """The twin of /events, for polling (the pages' twins, with the session cookie:
    /workshops/{code}/feed.json and /workshops/{code}/events)."""
    return JSONResponse(jsonable(feed_body(session, principal, code)))


@router.get("/{code}/moderation", summary="What the workshop added that waits for a decision, "
                                          "with the authors' pseudonyms (its facilitators)")
def workshop_moderation(code: str, session: SessionDep,
                        principal: PrincipalDep) -> JSONResponse:
    workshop = sessions.get(session, code)
    return JSONResponse(jsonable(feed.pending(session, principal, workshop)))


@router.get("/{code}/summary", summary="What the workshop added by kind, by category and "
                                       "level, and what was validated")
def workshop_summary(code: str, session: SessionDep) -> JSONResponse:
    workshop = sessions.get(session, code)
    return JSONResponse(jsonable(feed.summary(session, workshop)))


# --- live: server-sent events --------------------------------------------------------------------

class _Markers:
    """The last marker of each workshop, per app, shared by the streams of this process: a
    hundred open streams cost one marker query a second, not a hundred."""

    def __init__(self) -> None:
        self.values: dict[tuple[int, int], tuple[float, str]] = {}

    async def get(self, request: Request, workshop_id: int) -> str:
        key = (id(request.app), workshop_id)
        found = self.values.get(key)
        if found is not None and time.monotonic() - found[0] < POLL_S:
            return found[1]
        value = await read_briefly(request, lambda s: feed.marker(s, workshop_id))
        self.values[key] = (time.monotonic(), value)
        return value


MARKERS = _Markers()


@router.get("/{code}/events", include_in_schema=False)
async def workshop_events(request: Request, code: str, reads: AsyncReadsDep,
                          principal: PrincipalDep) -> Response:
    """`text/event-stream`: an event `feed` (the body of /feed) at once and whenever the
    workshop changes; a participant's page reads it with fetch (its token in the header).
    Left out of the OpenAPI document: it never ends, which a schema-driven client cannot
    test; /feed is its documented twin."""
    return await live(request, code, reads, principal)


async def live(request: Request, code: str, reads: AsyncSession,
               principal: Principal) -> Response:
    """The stream, for the API (Bearer) and the pages (session cookie). The handler runs on
    the event loop (docs/conventions.md, "Which engine serves what"); between reads the
    stream holds no connection (api.deps.read_briefly)."""
    workshop_id = await reads.run_sync(lambda s: sessions.get(s, code).id)
    await reads.close()  # nothing held while the stream is open

    async def events() -> Any:
        last = None
        while not await request.is_disconnected():
            current = await MARKERS.get(request, workshop_id)
            if current != last:
                body = await read_briefly(request, lambda s: feed_body(s, principal, code))
                last = current
                yield {"event": "feed", "id": current,
                       "data": json.dumps(jsonable(body), ensure_ascii=False)}
            await asyncio.sleep(POLL_S)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store",
                                                            "X-Accel-Buffering": "no"})
