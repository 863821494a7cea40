"""Jinja2 set-up: every page text comes from the message catalogue through `t`."""

from typing import Any

from fastapi.templating import Jinja2Templates

from carto import ROOT, vocab
from carto.i18n import t

templates = Jinja2Templates(directory=str(ROOT / "templates"))
templates.env.globals.update(t=t, vocab=vocab)


def context(lang: str, **values: Any) -> dict[str, Any]:
    return {"lang": lang, **values}
