"""Every sentence people read comes from the catalogue (data/i18n/messages.csv), in French and
English (issue 11, Messages): a scan of the code and the templates, and the API answering in
the reader's language."""

import ast
import re
import string
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from carto import ROOT
from carto.errors import Invalid
from carto.i18n import catalogue, msg, negotiate, t
from tests.apiworld import World

SOURCES = sorted([*ROOT.joinpath("carto").rglob("*.py"), *ROOT.joinpath("api").rglob("*.py")])
ERRORS = {"CartoError", "NotFound", "Invalid", "Conflict", "PreconditionFailed",
          "PreconditionRequired", "Unauthenticated", "Forbidden", "Ambiguous"}
# api.problems' builders of an answer and the position of their detail: the sentence a reader
# is shown, which must be a Message or a catalogue text, never a literal
PROBLEM_DETAIL = {"problem": 2, "localised_problem": 3}


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _message_arg(call: ast.Call) -> ast.expr | None:
    """The argument of `call` that holds a sentence, if `call` builds an error."""
    name = _name(call.func)
    if name in ERRORS:
        return call.args[0] if call.args else None
    if name == "FieldError" or (name == "field" and _name(getattr(call.func, "value", call))
                                == "Invalid"):
        return call.args[1] if len(call.args) > 1 else None
    if name == "add" and isinstance(call.func, ast.Attribute) and _name(call.func.value) in (
            "errors", "collector", "problems_"):
        return call.args[1] if len(call.args) > 1 else None
    if name == "Rejected":  # an import row's fate (carto.io.pipeline): Rejected(field, reason)
        return call.args[1] if len(call.args) > 1 else None
    if name in PROBLEM_DETAIL:
        at = PROBLEM_DETAIL[name]
        detail = [k.value for k in call.keywords if k.arg == "detail"]
        return call.args[at] if len(call.args) > at else (detail[0] if detail else None)
    if name == "add" and _name(getattr(call.func, "value", call)) == "report":
        # Report.add(line, status, label, field, reason): the reason is read in the report
        reason = [k.value for k in call.keywords if k.arg == "reason"]
        return call.args[4] if len(call.args) > 4 else (reason[0] if reason else None)
    return None


def _is_literal_text(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_literal_text(node.left) or _is_literal_text(node.right)
    if isinstance(node, ast.Call) and _name(node.func) == "format":
        return isinstance(getattr(node.func, "value", None), ast.Constant)
    return False


def _calls(path: Path) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, ast.Call)]


def _placeholders(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_catalogue_row_has_french_and_english() -> None:
    missing = [k for k, v in catalogue().items() if not v["fr"].strip() or not v["en"].strip()]
    assert missing == []
    differ = [k for k, v in catalogue().items()
              if {p.split("!")[0] for p in _placeholders(v["fr"])}
              != {p.split("!")[0] for p in _placeholders(v["en"])}]
    assert differ == [], "French and English must use the same placeholders"


def test_no_error_is_raised_with_a_literal_sentence() -> None:
    """An error built with a French (or any) literal instead of `msg(key)` fails here, and so
    does a problem document (`api.problems.problem`, `localised_problem`) given a literal
    detail."""
    found = []
    for path in SOURCES:
        rel = str(path.relative_to(ROOT))
        for call in _calls(path):
            arg = _message_arg(call)
            if arg is not None and _is_literal_text(arg):
                found.append(f"{rel}:{call.lineno}")
    assert found == [], "use carto.i18n.msg(key, ...) for these"


def test_the_command_prints_no_literal_sentence() -> None:
    """carto/cli.py prints catalogue sentences (`_echo`, `_say`, `_fail(msg(...))`): a word in
    a string given to echo/secho/_fail is a sentence that would stay French."""
    found = []
    path = ROOT / "carto" / "cli.py"
    for call in _calls(path):
        if _name(call.func) not in ("echo", "secho", "_fail") or not call.args:
            continue
        arg = call.args[0]
        parts = [arg] if isinstance(arg, ast.Constant) else [
            v for v in getattr(arg, "values", []) if isinstance(v, ast.Constant)]
        if any(isinstance(p.value, str) and re.search(r"[^\W\d_]{2,}", p.value) for p in parts):
            found.append(f"cli.py:{call.lineno}")
    assert found == []


def test_every_key_the_code_names_is_in_the_catalogue_with_its_values() -> None:
    problems = []
    for path in SOURCES:
        for call in _calls(path):
            if _name(call.func) not in ("msg", "t") or not call.args:
                continue
            key = call.args[0]
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                if _name(call.func) == "msg":
                    problems.append(f"{path.name}:{call.lineno}: msg() needs a literal key")
                continue
            entry = catalogue().get(key.value)
            if entry is None:
                problems.append(f"{path.name}:{call.lineno}: {key.value} not in the catalogue")
                continue
            given = {k.arg for k in call.keywords if k.arg}
            if any(k.arg is None for k in call.keywords):
                continue  # **values: checked where they are built
            wanted = {p.split("!")[0].split(".")[0].split("[")[0]
                      for p in _placeholders(entry["fr"])}
            if _name(call.func) == "msg" and given != wanted:
                problems.append(f"{path.name}:{call.lineno}: {key.value} takes {wanted}, "
                                f"given {given}")
    assert problems == []


def test_problem_titles_and_validation_messages_are_in_the_catalogue() -> None:
    from api import problems

    keys = {k for _, k in problems.STATUS.values()} | set(problems.HTTP_TITLES.values()) | set(
        problems.VALIDATION_KEYS.values()) | {"problem.invalid_parameter", "problem.error"}
    assert sorted(keys - catalogue().keys()) == []


def test_every_key_the_templates_name_is_in_the_catalogue() -> None:
    keys = {m for p in ROOT.joinpath("templates").rglob("*.html")
            for m in re.findall(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]\s*[,)]""", p.read_text())}
    assert keys and sorted(keys - catalogue().keys()) == []


@pytest.mark.parametrize(("lang", "header", "expected"), [
    (None, None, "fr"), ("en", None, "en"), ("fr", "en", "fr"), (None, "en-GB,en;q=0.9", "en"),
    (None, "de-DE,de;q=0.9,en;q=0.5,fr;q=0.4", "en"), (None, "de", "fr"),
    (None, "en;q=0.2, fr-FR", "fr"), ("xx", "en", "en"), (None, "en;q=abc", "fr"),
])
def test_the_language_is_lang_then_accept_language_then_french(
        lang: str | None, header: str | None, expected: str) -> None:
    assert negotiate(lang, header) == expected


def test_a_message_is_put_into_words_in_the_reader_s_language() -> None:
    error = Invalid.field("bbox", msg("problem.too_large.limit", bytes=10))
    assert error.detail == "bbox: le corps de la requête dépasse 10 octets"
    assert error.detail_in("en") == "bbox: the request body exceeds 10 bytes"
    assert error.errors[0].text("en") == "the request body exceeds 10 bytes"
    assert t("problem.not_found", "en") == "Not found"


def test_api_errors_follow_accept_language(client: TestClient) -> None:
    fr = client.get("/api/resources/00000000-0000-0000-0000-000000000000")
    en = client.get("/api/resources/00000000-0000-0000-0000-000000000000",
                    headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert fr.status_code == en.status_code == 404
    assert fr.json()["title"] == "Introuvable" and en.json()["title"] == "Not found"
    bad = client.post("/api/tokens", json={"role": 3}, headers={"Accept-Language": "en"})
    assert bad.json()["title"] in ("Invalid data", "Authentication required")
    missing = client.get("/nowhere", headers={"Accept-Language": "en"})
    assert missing.json() == missing.json() | {"title": "Not found",
                                               "detail": "nothing at this address"}
    assert client.get("/nowhere", params={"lang": "fr"},
                      headers={"Accept-Language": "en"}).json()["title"] == "Introuvable"


def test_pydantic_errors_come_from_the_catalogue(client: TestClient, world: World) -> None:
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": "x"},
            "properties": {}}
    for lang, words in (("fr", "liste attendue"), ("en", "list expected")):
        r = client.post("/api/resources", json=body, params={"lang": lang},
                        headers=World.auth(world.editor))
        assert r.status_code == 422
        assert r.json()["title"] == {"fr": "Données invalides", "en": "Invalid data"}[lang]
        assert r.json()["errors"] == [{"field": "geometry.coordinates", "message": words}]


def test_write_errors_speak_the_reader_s_language(client: TestClient) -> None:
    for lang, title, words in (("fr", "Authentification requise", "jeton inconnu ou révoqué"),
                               ("en", "Authentication required", "unknown or revoked token")):
        r = client.post("/api/resources", json={}, headers={
            "Authorization": "Bearer nope", "Accept-Language": lang})
        assert r.status_code == 401 and r.json()["title"] == title
        assert r.json()["detail"] == words


def test_nearby_errors_in_english(client: TestClient) -> None:
    r = client.get("/api/nearby", params={"commune": "Nullepartville", "lang": "en"})
    assert r.status_code == 400 and r.json()["title"] == "Invalid parameter"
    assert r.json()["errors"][0]["message"].startswith("unknown commune: 'Nullepartville'")
    fr = client.get("/api/nearby", params={"commune": "Nullepartville"})
    assert fr.json()["errors"][0]["message"].startswith("commune inconnue : 'Nullepartville'")
    ambiguous = client.get("/api/nearby", params={"commune": "Saint-Brès"},
                           headers={"Accept-Language": "en-GB"})
    assert "several communes are called" in ambiguous.json()["detail"]
    assert len(ambiguous.json()["candidates"]) >= 2


@pytest.mark.browser
def test_the_nearby_page_shows_english_errors(live_server: str) -> None:
    from tests.browser import browser, open_page

    with browser() as b:
        visit = open_page(b, live_server + "/nearby?lang=en&commune=Nullepartville",
                          width=390, height=844)
        status = visit.page.locator("#nb-status")
        visit.page.wait_for_function(
            "() => document.querySelector('#nb-status').className.includes('error')")
        assert "unknown commune" in status.inner_text()
        assert "inconnue" not in status.inner_text()
