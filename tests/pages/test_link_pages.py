"""Cooperation link pages and the moderation page (issue 13), against the real server: declare
a cooperation without a script (names typed, resolved by the server, several matches offered as
choices), the road travelled (each level change with its note), a level change without a note
or to the same level refused next to its field, a change saved meanwhile shown beside yours and
re-applied (level and edit), the fields from templates/_form.html, edit, delete
and restore; a contributor's link that waits for the editor, validated or rejected with a reason
on /moderation; forged cross-site posts refused; user text escaped."""

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from carto import links, resources, tokens
from carto.db import transaction

XSS = "<img src=x onerror=alert(1)>"


def _token(url: str, role: str, name: str) -> str:
    with transaction(url) as session:
        return tokens.create(session, role, "pezenas", name).token


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no anti-CSRF field in the page"
    return found.group(1)


class Web:
    """A signed-in browser without JavaScript: a cookie jar, its anti-CSRF value, form posts
    from this origin."""

    def __init__(self, base: str, token: str | None) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, headers={"Accept": "text/html"})
        self.csrf = ""
        if token:
            assert self.post("/sign-in", {"token": token, "next": "/"}).status_code == 303
            self.csrf = _csrf(self.get("/").text)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, data: dict, origin: str | None = None) -> httpx.Response:
        return self.http.post(path, data={"csrf": self.csrf, **data},
                              headers={"Origin": origin or self.base})


@pytest.fixture(scope="module")
def garden(live_server: str, migrated: str) -> Iterator[dict[str, str]]:
    """A resource of our own in Pézenas (one end of every link here), deleted afterwards with
    its links, so the demo's counts stay as data/demo says."""
    with transaction(migrated) as session:
        rid = resources.create(session, {
            "territories": ["pezenas"], "commune": "34199", "lon": 3.4102, "lat": 43.4655,
            "location_precision": "exact", "kind": "shared_garden",
            "name": f"Jardin des Lierres {XSS}"}, "test").id
    yield {"id": str(rid), "name": f"Jardin des Lierres {XSS}"}
    with transaction(migrated) as session:
        for link_id in session.execute(text(
                "SELECT id FROM link WHERE (source_id = :r OR target_id = :r) "
                "AND deleted_at IS NULL"), {"r": rid}).scalars().all():
            links.delete(session, link_id, "test", None)
        resources.delete(session, rid, "test", None)


@pytest.fixture(scope="module")
def editor(live_server: str, migrated: str) -> Iterator[Web]:
    web = Web(live_server, _token(migrated, "editor", "Animatrice Pézenas"))
    yield web
    web.http.close()


@pytest.fixture(scope="module")
def contributor(live_server: str, migrated: str) -> Iterator[Web]:
    web = Web(live_server, _token(migrated, "contributor", "Bénévole Pézenas"))
    yield web
    web.http.close()


@pytest.fixture
def reader(live_server: str) -> Iterator[Web]:
    web = Web(live_server, None)
    yield web
    web.http.close()


def _link_id(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text[:2000]
    found = re.match(r"/links/([0-9a-f-]{36})", answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def _steps(html: str) -> list[str]:
    return re.findall(r'<li class="step">(.*?)</li>', html, re.S)


def test_an_editor_declares_a_cooperation_and_walks_its_road(editor: Web, reader: Web,
                                                             garden: dict[str, str]) -> None:
    form = editor.get("/territories/pezenas/links/new")
    assert form.status_code == 200
    for words in ("Déclarer une coopération", "<legend>Catégorie</legend>",
                  "<legend>Niveau</legend>", "Échanges de services",
                  "approvisionnement local de qualité"):
        assert words in form.text
    # no script: the names are typed, accents and case ignored, and the server finds them
    made = editor.post("/territories/pezenas/links/new", {
        "source_name": "jardin des lierres", "target_name": "amap",
        "category": "producers_suppliers", "level": "2",
        "stakes": ["approvisionnement local de qualité", "enjeux partagés"],
        "description": f"Paniers de légumes {XSS}", "started_on": "2024-03-05",
        "level_note": "Premiers paniers échangés"})
    link_id = _link_id(made)
    page = editor.get(f"/links/{link_id}")
    assert page.status_code == 200
    assert XSS not in page.text and "Paniers de légumes &lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "AMAP (Pézenas)" in page.text and "Avec les producteurs et fournisseurs" in page.text
    # a stake of another category, ticked before changing one's mind, is not kept
    assert "approvisionnement local de qualité" in page.text
    assert '<span class="chip">enjeux partagés</span>' not in page.text
    assert len(_steps(page.text)) == 1 and "Premiers paniers échangés" in page.text
    assert reader.get(f"/links/{link_id}").status_code == 200  # an editor's link is published

    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    no_note = editor.post(f"/links/{link_id}/level", {"version": version, "level": "3"})
    assert no_note.status_code == 422 and 'id="level_note-error"' in no_note.text
    assert "pourquoi le niveau change" in no_note.text
    same = editor.post(f"/links/{link_id}/level", {"version": version, "level": "2",
                                                   "level_note": "rien"})
    assert same.status_code == 422 and 'id="level-error"' in same.text
    up = editor.post(f"/links/{link_id}/level", {"version": version, "level": "3",
                                                 "level_note": "La chambre froide est partagée"})
    assert up.status_code == 303 and up.headers["location"].endswith("#road")
    stale = editor.post(f"/links/{link_id}/level", {"version": version, "level": "4",
                                                    "level_note": "trop tard"})
    assert stale.status_code == 409 and 'id="conflict"' in stale.text  # theirs beside yours
    road = editor.get(f"/links/{link_id}").text
    steps = _steps(road)
    assert len(steps) == 2 and "Mutualisation de moyens" in steps[1] and "en progrès" in steps[1]
    assert "La chambre froide est partagée" in steps[1] and "trop tard" not in road

    # edit (the form comes filled), delete, restore
    edit = editor.get(f"/links/{link_id}/edit")
    assert edit.status_code == 200 and 'value="Jardin des Lierres &lt;img' in edit.text
    version = re.search(r'name="version" value="(\d+)"', edit.text).group(1)  # type: ignore[union-attr]
    saved = editor.post(f"/links/{link_id}/edit", {
        "version": version, "source": garden["id"], "source_name": garden["name"],
        "target_name": "AMAP (Pézenas)", "category": "producers_suppliers",
        "description": "Paniers chaque semaine", "started_on": "2024-03-05",
        "status": "active"})
    assert saved.status_code == 303
    assert "Paniers chaque semaine" in editor.get(f"/links/{link_id}").text
    version = re.search(r'id="delete-form">\s*<input[^>]+>\s*<input type="hidden" name="version" '
                        r'value="(\d+)"', editor.get(f"/links/{link_id}").text).group(1)  # type: ignore[union-attr]
    assert editor.post(f"/links/{link_id}/delete", {"version": version}).status_code == 303
    assert reader.get(f"/links/{link_id}").status_code == 404
    gone = editor.get(f"/links/{link_id}")
    assert 'id="deleted-notice"' in gone.text and "Restaurer" in gone.text
    assert editor.post(f"/links/{link_id}/restore", {}).status_code == 303
    assert reader.get(f"/links/{link_id}").status_code == 200


def test_a_name_with_several_matches_is_offered_as_choices(editor: Web,
                                                           garden: dict[str, str]) -> None:
    answer = editor.post("/territories/pezenas/links/new", {
        "source": garden["id"], "source_name": garden["name"], "target_name": "secours",
        "category": "aid_associations", "level": "1"})
    assert answer.status_code == 422 and 'id="target_name-error"' in answer.text
    choices = re.findall(r'type="radio" name="target" value="([0-9a-f-]{36})"', answer.text)
    assert len(choices) >= 2 and "Secours Populaire de Pézenas" in answer.text
    assert 'value="secours"' in answer.text  # what was typed is kept
    unknown = editor.post("/territories/pezenas/links/new", {
        "source": garden["id"], "target_name": "zzzz introuvable", "category": "x",
        "level": "1"})
    assert unknown.status_code == 422 and "Aucune structure du territoire" in unknown.text


def test_suggestions_ignore_accents_and_follow_the_reader(editor: Web, reader: Web,
                                                          garden: dict[str, str]) -> None:
    found = editor.http.get("/territories/pezenas/links/suggest.json",
                            params={"q": "restos du coeur"}).json()["results"]
    assert [r["name"] for r in found] == ["Restos du Cœur de Pézenas"]
    assert found[0]["kind_label"] == "Aide alimentaire"
    lierres = reader.http.get("/territories/pezenas/links/suggest.json",
                              params={"q": "LIÈRRES"}).json()["results"]
    assert [r["id"] for r in lierres] == [garden["id"]]


def test_a_contributor_s_cooperation_waits_for_the_editor(contributor: Web, editor: Web,
                                                           reader: Web,
                                                           garden: dict[str, str]) -> None:
    made = contributor.post("/territories/pezenas/links/new", {
        "source": garden["id"], "target_name": "Ren'art", "category": "territorial_structures",
        "level": "1"})
    link_id = _link_id(made)
    mine = contributor.get(f"/links/{link_id}")
    assert 'id="pending-badge">en attente de validation' in mine.text
    assert 'id="level-form"' not in mine.text  # levels and edits are the editors'
    assert reader.get(f"/links/{link_id}").status_code == 404
    assert contributor.get("/moderation?territory=pezenas").status_code == 403
    assert reader.get("/moderation?territory=pezenas").status_code == 303  # to /sign-in

    queue = editor.get("/moderation?territory=pezenas")
    assert queue.status_code == 200 and f'id="item-{link_id}"' in queue.text
    assert "Bénévole Pézenas" in queue.text and "Ren&#39;art" in queue.text
    assert "Modifier puis valider" in queue.text
    item = queue.text.split(f'id="item-{link_id}"')[1].split("</article>")[0]
    assert "token:" not in item  # the author by the token's name, not the change log's actor
    version = re.search(r'name="version" value="(\d+)"', item).group(1)  # type: ignore[union-attr]
    no_reason = editor.post(f"/moderation/links/{link_id}/reject",
                            {"version": version, "territory": "pezenas", "reason": " "})
    assert no_reason.status_code == 422 and f'id="reason-error-{link_id}"' in no_reason.text
    assert "un refus doit dire pourquoi" in no_reason.text
    rejected = editor.post(f"/moderation/links/{link_id}/reject",
                           {"version": version, "territory": "pezenas",
                            "reason": "Déjà déclarée"})
    assert rejected.status_code == 303 and "done=rejected" in rejected.headers["location"]
    after = editor.get(rejected.headers["location"])
    assert f'id="item-{link_id}"' not in after.text and 'id="done"' in after.text
    assert "Déjà déclarée" in editor.get(f"/links/{link_id}").text
    assert reader.get(f"/links/{link_id}").status_code == 404


def test_edit_then_validate_publishes_a_contributed_link(contributor: Web, editor: Web,
                                                         reader: Web,
                                                         garden: dict[str, str]) -> None:
    link_id = _link_id(contributor.post("/territories/pezenas/links/new", {
        "source": garden["id"], "target_name": "Croix Rouge", "category": "aid_associations",
        "level": "1", "description": "Prêt de la camionette"}))
    edit = editor.get(f"/links/{link_id}/edit")
    assert 'id="save-validate"' in edit.text
    version = re.search(r'name="version" value="(\d+)"', edit.text).group(1)  # type: ignore[union-attr]
    target = re.search(r'name="target" id="target" value="([0-9a-f-]{36})"', edit.text).group(1)  # type: ignore[union-attr]
    done = editor.post(f"/links/{link_id}/edit", {
        "version": version, "source": garden["id"], "target": target,
        "category": "aid_associations", "description": "Prêt de la camionnette",
        "status": "active", "then": "validate"})
    assert done.status_code == 303
    page = reader.get(f"/links/{link_id}")
    assert page.status_code == 200 and "Prêt de la camionnette" in page.text
    assert "en attente de validation" not in page.text


def test_forged_cross_site_posts_are_refused(editor: Web, garden: dict[str, str],
                                             live_server: str, migrated: str) -> None:
    form = {"source": garden["id"], "target_name": "Ren'art", "category": "aid_associations",
            "level": "1"}
    evil = editor.http.post("/territories/pezenas/links/new", data={**form, "csrf": editor.csrf},
                            headers={"Origin": "http://evil.example",
                                     "Sec-Fetch-Site": "cross-site"})
    assert evil.status_code == 403 and "ne vient pas de ce site" in evil.text
    no_csrf = editor.http.post("/territories/pezenas/links/new", data=form,
                               headers={"Origin": live_server})
    assert no_csrf.status_code == 403 and "anti-falsification" in no_csrf.text
    with transaction(migrated) as session:
        assert not session.execute(text(
            "SELECT 1 FROM link WHERE source_id = :r AND category = 'aid_associations' "
            "AND target_id IN (SELECT id FROM resource WHERE name = 'Ren''art')"),
            {"r": uuid.UUID(garden["id"])}).first()
    forged_reject = editor.http.post(f"/moderation/links/{uuid.uuid4()}/reject",
                                     data={"reason": "x"}, headers={"Origin": live_server})
    assert forged_reject.status_code == 403


def test_a_contributor_sees_their_own_pending_items_on_the_map_marked(
        contributor: Web, reader: Web, editor: Web, garden: dict[str, str],
        live_server: str) -> None:
    """The territory page and the map's data read the page's reader (carto.visibility): the
    contributor's pending link is on their map, marked, and on nobody else's but the editors'."""
    link_id = _link_id(contributor.post("/territories/pezenas/links/new", {
        "source": garden["id"], "target_name": "Secours Populaire de Pézenas",
        "category": "aid_associations", "level": "1", "description": "Colis partagés"}))
    assert link_id in contributor.get("/territories/pezenas").text
    assert link_id not in reader.get("/territories/pezenas").text
    popup = contributor.http.get(f"/territories/pezenas/map/links/{link_id}.json",
                                 headers={"Accept": "application/json"})
    assert popup.status_code == 200 and popup.json()["pending"] is True
    assert reader.http.get(f"/territories/pezenas/map/links/{link_id}.json").status_code == 404
    published = reader.http.get(f"/territories/pezenas/map/resources/{garden['id']}.json").json()
    assert "pending" not in published  # a validated resource carries no mark
    assert editor.http.get(f"/territories/pezenas/map/links/{link_id}.json").json()["pending"]
    record = contributor.get(f"/resources/{garden['id']}").text
    assert f'href="/links/{link_id}"' in record and "en attente de validation" in record
    # a Bearer token still reads the map's data as before (QGIS and other clients)
    assert httpx.get(f"{live_server}/territories/pezenas/map/links/{link_id}.json",
                     headers={"Authorization": "Bearer terreau_wrong"}).status_code == 401


def _version(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)  # type: ignore[union-attr]


def _declared(editor: Web, garden: dict[str, str], target: str, description: str) -> str:
    return _link_id(editor.post("/territories/pezenas/links/new", {
        "source": garden["id"], "target_name": target, "category": "aid_associations",
        "level": "2", "level_note": "premiers échanges", "description": description}))


def test_a_level_changed_meanwhile_shows_theirs_beside_yours_and_keeps_what_was_typed(
        editor: Web, garden: dict[str, str], live_server: str, migrated: str) -> None:
    link_id = _declared(editor, garden, "Restos du Cœur", "Paniers solidaires")
    opened = _version(editor.get(f"/links/{link_id}").text)
    colleague = Web(live_server, _token(migrated, "editor", "Collègue Pézenas"))
    assert colleague.post(f"/links/{link_id}/level", {
        "version": opened, "level": "3", "level_note": "chambre froide partagée"}
    ).status_code == 303
    mine = editor.post(f"/links/{link_id}/level", {
        "version": opened, "level": "4", "level_note": f"un projet commun {XSS}"})
    assert mine.status_code == 409
    page = mine.text
    conflict = page.split('id="conflict"')[1].split("</section>")[0]
    assert "Collègue Pézenas" in conflict and "coopération" in conflict
    row = re.search(r'<tr data-group="level">(.*?)</tr>', conflict, re.S).group(1)  # type: ignore[union-attr]
    assert "3 — Mutualisation de moyens" in row and "4 — " in row and "clash" in row
    # what was typed is in the form, which now carries their version
    assert re.search(r'name="level" value="4" checked', page)
    assert f"un projet commun {XSS.replace('<', '&lt;').replace('>', '&gt;')}</textarea>" in page
    assert XSS not in page
    current = _version(page)
    assert int(current) > int(opened)
    again = editor.post(f"/links/{link_id}/level", {
        "version": current, "level": "4", "level_note": "un projet commun"})
    assert again.status_code == 303
    steps = _steps(editor.get(f"/links/{link_id}").text)
    assert len(steps) == 3 and "chambre froide partagée" in steps[1] and \
        "un projet commun" in steps[2]
    colleague.http.close()


def test_an_edit_saved_meanwhile_is_merged_with_yours(
        editor: Web, garden: dict[str, str], live_server: str, migrated: str) -> None:
    link_id = _declared(editor, garden, "Secours Catholique", "Prêt de la camionnette")
    form = editor.get(f"/links/{link_id}/edit").text
    opened = _version(form)
    target = re.search(r'name="target" id="target" value="([0-9a-f-]{36})"', form).group(1)  # type: ignore[union-attr]
    ends = {"source": garden["id"], "target": target, "category": "aid_associations",
            "status": "active"}
    colleague = Web(live_server, _token(migrated, "editor", "Collègue Pézenas"))
    assert colleague.post(f"/links/{link_id}/edit", {
        **ends, "version": opened, "description": "Prêt de la camionnette le mardi"}
    ).status_code == 303
    # I change when it started and leave the description as I found it
    mine = editor.post(f"/links/{link_id}/edit", {
        **ends, "version": opened, "description": "Prêt de la camionnette",
        "started_on": "2024-03-05"})
    assert mine.status_code == 409
    conflict = mine.text.split('id="conflict"')[1].split("</section>")[0]
    row = re.search(r'<tr data-group="description">(.*?)</tr>', conflict, re.S).group(1)  # type: ignore[union-attr]
    assert "le mardi" in row and "inchangé de votre côté" in row and "clash" not in row
    # theirs where I left it, mine where I changed it
    assert ">Prêt de la camionnette le mardi</textarea>" in mine.text
    assert 'value="2024-03-05"' in mine.text
    again = editor.post(f"/links/{link_id}/edit", {
        **ends, "version": _version(mine.text), "description": "Prêt de la camionnette le mardi",
        "started_on": "2024-03-05"})
    assert again.status_code == 303
    page = editor.get(f"/links/{link_id}").text
    assert "le mardi" in page and "05/03/2024" in page
    # both changed the description differently: marked, and mine is kept in the form
    opened = _version(editor.get(f"/links/{link_id}/edit").text)
    assert colleague.post(f"/links/{link_id}/edit", {
        **ends, "version": opened, "description": "Le jeudi"}).status_code == 303
    clash = editor.post(f"/links/{link_id}/edit", {
        **ends, "version": opened, "description": "Le vendredi"})
    assert clash.status_code == 409 and ">Le vendredi</textarea>" in clash.text
    row = re.search(r'<tr data-group="description">(.*?)</tr>', clash.text, re.S).group(1)  # type: ignore[union-attr]
    assert "Le jeudi" in row and "Le vendredi" in row and "clash" in row
    colleague.http.close()


def test_the_link_form_is_built_from_the_shared_field_macros(editor: Web,
                                                             garden: dict[str, str]) -> None:
    """The same markup as the resource form (templates/_form.html): a summary of the errors
    linking to each field, each error tied to its control, the controls named by their
    visible labels."""
    from carto import ROOT

    for name in ("link_form.html", "link.html"):
        source = ROOT.joinpath("templates", name).read_text(encoding="utf-8")
        assert '{% import "_form.html" as f with context %}' in source, name
        for markup in ('<label for=', '<textarea', '<select', 'class="field'):
            assert markup not in source, (name, markup)
    refused = editor.post("/territories/pezenas/links/new", {"level": "2"})
    assert refused.status_code == 422
    page = refused.text
    assert 'id="error-summary"' in page and 'href="#source_name"' in page
    assert re.search(r'id="source_name"[^>]*aria-describedby="source_name-error"', page)
    assert 'id="source_name-error"' in page
    for field in ("description", "started_on", "level_note"):
        assert f'id="field-{field}"' in page, field
    no_category = editor.post("/territories/pezenas/links/new", {
        "source": garden["id"], "target_name": "Croix Rouge", "level": "2"}).text
    assert re.search(r'<fieldset class="field radios-field has-error" id="category" '
                     r'aria-describedby="category-error" aria-invalid="true">', no_category)
    assert 'id="category-error"' in no_category and 'href="#category"' in no_category


def test_a_nul_in_a_link_or_moderation_form_is_refused_naming_its_field(
        editor: Web, contributor: Web, garden: dict[str, str], migrated: str) -> None:
    """A NUL reached PostgreSQL, whose refusal named no field: the form is refused before its
    handler (api.forms.STORABLE), a 422 page naming the field, and nothing is written."""
    made = editor.post("/territories/pezenas/links/new", {
        "source": garden["id"], "target_name": "Ren'art", "category": "aid_associations",
        "level": "1", "description": "Prêt\x00 de salle"})
    assert made.status_code == 422, made.text[:2000]
    assert "description: caractère nul" in made.text
    with transaction(migrated) as session:
        assert not session.execute(text(
            "SELECT 1 FROM link WHERE source_id = :r AND category = 'aid_associations' "
            "AND target_id IN (SELECT id FROM resource WHERE name = 'Ren''art')"),
            {"r": uuid.UUID(garden["id"])}).first()
    link_id = _link_id(contributor.post("/territories/pezenas/links/new", {
        "source": garden["id"], "target_name": "Ren'art", "category": "producers_suppliers",
        "level": "1"}))
    item = editor.get("/moderation?territory=pezenas").text.split(f'id="item-{link_id}"')[1]
    version = re.search(r'name="version" value="(\d+)"', item).group(1)  # type: ignore[union-attr]
    refused = editor.post(f"/moderation/links/{link_id}/reject",
                          {"version": version, "territory": "pezenas", "reason": "dé\x00jà"})
    assert refused.status_code == 422 and "reason: caractère nul" in refused.text
    assert f'id="item-{link_id}"' in editor.get("/moderation?territory=pezenas").text
