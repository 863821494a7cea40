"""The duplicates page's forms over HTTP, against the real server (the browser journeys are in
tests/pages/test_duplicates_browser.py): a NUL in a posted field is refused before the handler
runs (api.forms.STORABLE), naming the field, and the pair is left as it was."""

from collections.abc import Iterator

import httpx
import pytest

from tests.api.test_duplicates_api import _twins
from tests.apiworld import World
from tests.sessions import csrf


@pytest.fixture
def web(live_server: str, world: World) -> Iterator[httpx.Client]:
    """A browser without JavaScript signed in as the api-a editor."""
    with httpx.Client(base_url=live_server, timeout=30, headers={
            "Origin": live_server, "Accept": "text/html"}) as client:
        assert client.post("/sign-in", data={"token": world.editor,
                                             "next": "/"}).status_code == 303
        yield client


def test_a_nul_in_a_duplicates_form_is_refused_naming_its_field(web: httpx.Client,
                                                                world: World) -> None:
    """`back` goes into the answer's Location: with a NUL the pair was dismissed, then the
    answer broke. Now a 422 page naming `back`, and the pair is still flagged."""
    one, two, flagged = _twins(web, world, 3600, "Friperie {} solidaire",  # type: ignore[arg-type]
                               "friperie solidaire {}")
    assert flagged()
    page = web.get("/moderation/duplicates?territory=api-a")
    assert page.status_code == 200
    sent = {"csrf": csrf(page.text), "a": one, "b": two,
            "back": "/moderation/duplicates?territory=api-a\x00"}
    refused = web.post("/moderation/duplicates/dismiss", data=sent)
    assert refused.status_code == 422, refused.text[:2000]
    assert "back: caractère nul" in refused.text
    assert flagged()
    merge = web.post("/moderation/duplicates/merge", data={
        "csrf": sent["csrf"], "resource": two, "into": one, "version": "1",
        "back": sent["back"]})
    assert merge.status_code == 422 and "back: caractère nul" in merge.text
    assert flagged()
