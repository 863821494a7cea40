"""Jinja2 set-up: every page text comes from the message catalogue through `t`; inline scripts
and styles carry the response's CSP nonce (`csp_nonce()`, `|nonced`: api.security)."""

from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from api.security import request_nonce, with_nonce
from api.session import signed_in
from carto import ROOT, tokens, vocab
from carto.i18n import t
from carto.numbers import number, percent


def _session(request: Request) -> dict[str, Any]:
    """Every page's header says who is signed in (api.session), and its forms carry the
    session's anti-CSRF value."""
    who = signed_in(request)
    return {"signed_in": who, "csrf": who.csrf if who else ""}


templates = Jinja2Templates(directory=str(ROOT / "templates"), context_processors=[_session])


@pass_context
def csp_nonce(ctx: Context) -> str:
    """The nonce of the response being rendered (empty outside a request: a file)."""
    request = ctx.get("request")
    return request_nonce(request.scope) if request is not None else ""


@pass_context
def nonced(ctx: Context, html: str) -> Markup:
    """HTML the app built itself (folium's map header) with the nonce on its inline elements."""
    nonce = csp_nonce(ctx)
    return Markup(with_nonce(str(html), nonce) if nonce else html)  # our own HTML


templates.env.globals.update(t=t, vocab=vocab, csp_nonce=csp_nonce,
                             number=number, percent=percent)  # 0,105 · 4 % in French: carto.numbers
templates.env.filters["nonced"] = nonced
templates.env.filters["actor"] = tokens.actor_name  # "token:3:Animatrice" → "Animatrice"


def context(lang: str, **values: Any) -> dict[str, Any]:
    return {"lang": lang, **values}
