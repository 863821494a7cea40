"""Concurrent merges against a real uvicorn server (issue 14): threads released together by a
barrier merging the same pair, or crossing pairs (A into B while B into A). Exactly one
merge wins; the others get 412 (the version they sent moved) or 409 (already merged); never
a cycle; both change logs kept; each link re-pointed once (carto.duplicates.merge locks both
rows in id order, carto.lifecycle.lock_all). Merges of different pairs sharing a resource
(a chain, two into one, a triangle) released together: never a deadlock (503) nor a 500, and
the outcome is that of some serial order."""

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.api.test_writes_live import _log, _rows, race
from tests.apiworld import World, feature

ROUNDS = 5
Call = Callable[[httpx.Client], httpx.Response]


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=60) as client:
        yield client


def _pair_with_links(http: httpx.Client, world: World, tag: str) -> dict[str, str]:
    """A and B (the same place entered twice), C linked to A and D linked to B."""
    editor = World.auth(world.editor)
    ids: dict[str, str] = {}
    for name in ("A", "B", "C", "D"):
        made = http.post("/api/resources", headers=editor,
                         json=feature(name=f"Fusion {tag} {name}"))
        assert made.status_code == 201, made.text
        ids[name] = str(made.json()["id"])
    for link, (source, target) in (("AC", ("A", "C")), ("BD", ("B", "D"))):
        made = http.post("/api/links", headers=editor, json={
            "source": ids[source], "target": ids[target], "category": "aid_associations",
            "level": 2})
        assert made.status_code == 201, made.text
        ids[link] = str(made.json()["id"])
    return ids


def _merge(world: World, merged: str, into: str) -> Call:
    headers = World.auth(world.editor) | {"If-Match": '"1"'}
    return lambda c: c.post(f"/api/resources/{merged}/merge", json={"into": into},
                            headers=headers)


def _check(migrated: str, ids: dict[str, str], kept: str, merged: str) -> None:
    """One resource merged into the other, not both; histories kept; each link of the merged
    one re-pointed once, the kept one's untouched."""
    state = dict(_rows(migrated, "SELECT id::text, merged_into::text FROM resource "
                                 "WHERE id = ANY(%s::uuid[])", [ids["A"], ids["B"]]))
    assert state == {ids[merged]: ids[kept], ids[kept]: None}, state
    assert _log(migrated, ids[merged]) == ["create", "merge"]
    assert _log(migrated, ids[kept]) == ["create"]
    moved, still = ("AC", "BD") if merged == "A" else ("BD", "AC")
    assert _log(migrated, ids[moved]) == ["create", "update"]
    assert _log(migrated, ids[still]) == ["create"]
    ends = _rows(migrated, "SELECT source_id::text, target_id::text FROM link WHERE id = %s",
                 ids[moved])
    assert ids[kept] in ends[0] and ids[merged] not in ends[0], ends


def test_merges_of_the_same_pair_released_together_one_wins(
        http: httpx.Client, world: World, live_server: str, migrated: str) -> None:
    for round_ in range(ROUNDS):
        ids = _pair_with_links(http, world, f"même {round_}")
        statuses = race(live_server, [_merge(world, ids["A"], ids["B"])] * 4)
        assert statuses.count(200) == 1, statuses
        assert all(s in (409, 412) for s in statuses if s != 200), statuses
        _check(migrated, ids, "B", "A")


def test_crossing_merges_released_together_one_wins_without_a_cycle(
        http: httpx.Client, world: World, live_server: str, migrated: str) -> None:
    for round_ in range(ROUNDS):
        ids = _pair_with_links(http, world, f"croisée {round_}")
        calls = [_merge(world, ids["A"], ids["B"]), _merge(world, ids["B"], ids["A"])] * 2
        statuses = race(live_server, calls)
        assert statuses.count(200) == 1, statuses
        assert all(s in (409, 412) for s in statuses if s != 200), statuses
        a_won = statuses.index(200) % 2 == 0  # even calls merge A into B
        _check(migrated, ids, *(("B", "A") if a_won else ("A", "B")))
        # the loser's answer named where its resource went
        kept, merged = (ids["B"], ids["A"]) if a_won else (ids["A"], ids["B"])
        gone = http.get(f"/api/resources/{merged}")
        assert gone.status_code == 410 and gone.json()["merged_into"] == kept


# --- merges of different pairs sharing a resource ---------------------------------------------
# A+B and B+C (a chain), A and C into B (one kept), A+B, B+C and C+A (a triangle): with each
# merge locking its own two rows in whatever order it names them, the triangle is a cycle of
# waits (A→B waits for B, held by B→C, which waits for C, held by C→A, which waits for A):
# PostgreSQL breaks it after deadlock_timeout by failing one of them (a 503 here). Locked in id
# order, every merge takes the lower id first: no cycle, each one either wins or finds its
# resource merged meanwhile (409) or its version moved (412); the outcome is the one of some
# serial order.

SHAPES = {"chain": [(0, 1), (1, 2)], "into one": [(0, 1), (2, 1)],
          "into the last": [(0, 2), (1, 2)], "triangle": [(0, 1), (1, 2), (2, 0)]}


def _three_with_links(http: httpx.Client, world: World, tag: str) -> list[str]:
    """Three resources in id order, each linked to one of its own, and the first linked to
    the other two (links that both merges of a pair may have to move, or delete)."""
    editor = World.auth(world.editor)

    def made(path: str, body: dict[str, object]) -> str:
        answer = http.post(path, headers=editor, json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    three = sorted(made("/api/resources", feature(name=f"Partagée {tag} {n}")) for n in range(3))
    ends = [(r, made("/api/resources", feature(name=f"Voisine {tag} {n}")))
            for n, r in enumerate(three)] + [(three[0], three[1]), (three[0], three[2])]
    for source, target in ends:
        made("/api/links", {"source": source, "target": target,
                            "category": "aid_associations", "level": 2})
    return three


def _serial_outcome(migrated: str, three: list[str], calls: list[tuple[int, int]],
                    statuses: list[int]) -> None:
    """What the database holds is what the winners did, as if one after the other: each
    winner's resource points to its kept one, the losers' are untouched, every chain of
    pointers ends at a live resource, one "merge" row per merged resource, and no live link
    keeps an end that is gone."""
    state = dict(_rows(migrated, "SELECT id::text, merged_into::text FROM resource "
                                 "WHERE id = ANY(%s::uuid[])", three))
    for (merged, into), status in zip(calls, statuses, strict=True):
        assert state[three[merged]] == (three[into] if status == 200 else None), \
            (calls, statuses, state)
    for start in three:
        seen, at = [start], state[start]
        while at is not None:
            assert at not in seen, f"a cycle of merges: {seen + [at]}"
            seen.append(at)
            at = state[at]
    for rid in three:
        assert _log(migrated, rid) == (["create", "merge"] if state[rid] else ["create"])
    dangling = _rows(migrated, """
        SELECT l.id FROM link l JOIN resource s ON s.id = l.source_id
        JOIN resource t ON t.id = l.target_id
        WHERE l.deleted_at IS NULL AND (s.deleted_at IS NOT NULL OR t.deleted_at IS NOT NULL)
          AND (l.source_id = ANY(%s::uuid[]) OR l.target_id = ANY(%s::uuid[]))""", three, three)
    assert dangling == []


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_merges_of_pairs_sharing_a_resource_released_together_never_deadlock(
        http: httpx.Client, world: World, live_server: str, migrated: str, shape: str) -> None:
    calls = SHAPES[shape]
    for round_ in range(ROUNDS):
        three = _three_with_links(http, world, f"{shape} {round_}")
        statuses = race(live_server, [_merge(world, three[m], three[k]) for m, k in calls])
        assert all(s in (200, 409, 412) for s in statuses), (shape, statuses)  # no 503/500
        assert 200 in statuses, (shape, statuses)
        if shape == "into one":
            assert statuses == [200, 200], statuses  # B is kept by both: both merge into it
        _serial_outcome(migrated, three, calls, statuses)
