"""Concurrent merges against a real uvicorn server (issue 14): threads released together by a
barrier merging the same pair, or crossing pairs (A into B while B into A). Exactly one
merge wins; the others get 412 (the version they sent moved) or 409 (already merged); never
a cycle; both change logs kept; each link re-pointed once (carto.duplicates.merge locks both
rows in id order)."""

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
