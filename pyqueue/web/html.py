"""The document every page shares (head, header, language switch, footer) and the small pieces
the views are built from.

Everything that comes from outside (room texts, slot groups, booking codes) goes through
:func:`esc`; the views never build markup from unescaped values. No inline script or style is
written, so the Content-Security-Policy can forbid both: data for the script travels in a
``<script type="application/json">`` block, which is never executed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

import orjson

from pyqueue.web.appearance import PageLook
from pyqueue.web.i18n import LANGUAGES, Texts

LANGUAGE_NAMES: Final = {"de": "Deutsch", "en": "English"}


def esc(value: object) -> str:
    """Text made safe for element content and quoted attribute values."""
    return html.escape(str(value), quote=True)


def path_part(value: str) -> str:
    """A value made safe as one segment of a URL path."""
    return quote(value, safe="")


@dataclass(frozen=True)
class PageContext:
    """What every view of one request needs: language, room, look, time zone, asset URLs."""

    room: str
    texts: Texts
    look: PageLook
    zone: ZoneInfo
    #: Link of this same page in each language (the language switch).
    language_links: Mapping[str, str]
    #: Versioned URLs of the stylesheets and the script, by file name.
    assets: Mapping[str, str]

    @property
    def room_path(self) -> str:
        return f"/rooms/{path_part(self.room)}"

    @property
    def title(self) -> str:
        return self.look.text("title", self.texts.lang) or self.texts("site_title_default")


@dataclass(frozen=True)
class Refresh:
    """A reload for browsers without JavaScript: after ``seconds``, to ``url`` or the same page."""

    seconds: int
    url: str | None = None


def document(
    ctx: PageContext,
    *,
    heading: str,
    main: str,
    view: str,
    refresh: Refresh | None = None,
    script_data: Mapping[str, Any] | None = None,
) -> str:
    """The complete HTML document around ``main`` (already escaped markup)."""
    t = ctx.texts
    title = f"{heading} \N{EN DASH} {ctx.title}"
    head = [
        "<!doctype html>",
        f'<html lang="{t.lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="noindex">',
        f"<title>{esc(title)}</title>",
        f'<link rel="stylesheet" href="{esc(ctx.assets["page.css"])}">',
    ]
    if "theme.css" in ctx.assets:
        head.append(f'<link rel="stylesheet" href="{esc(ctx.assets["theme.css"])}">')
    if refresh is not None:
        content = str(max(1, refresh.seconds))
        if refresh.url is not None:
            content += f";url={refresh.url}"
        # Only without JavaScript: with it, the script polls and reloads when the state changes.
        head.append(f'<noscript><meta http-equiv="refresh" content="{esc(content)}"></noscript>')
    head.append(f'<script src="{esc(ctx.assets["page.js"])}" defer></script>')
    if view == "challenge":
        head.append(f'<script src="{esc(ctx.assets["challenge.js"])}" defer></script>')
    head.append("</head>")
    body = [
        f'<body data-view="{esc(view)}">',
        f'<a class="skip" href="#main">{esc(t("skip"))}</a>',
        _header(ctx),
        f'<main id="main" tabindex="-1">{main}</main>',
        _footer(ctx),
    ]
    if script_data is not None:
        body.append(
            '<script type="application/json" id="pq-data">'
            + json_for_script(script_data)
            + "</script>"
        )
    body.append("</body></html>")
    return "\n".join(head + body)


def json_for_script(data: Mapping[str, Any]) -> str:
    """JSON that cannot end its ``<script>`` element early, whatever strings it holds."""
    raw = orjson.dumps(data, option=orjson.OPT_UTC_Z)
    return (
        raw.replace(b"<", b"\\u003c")
        .replace(b">", b"\\u003e")
        .replace(b"&", b"\\u0026")
        .decode("utf-8")
    )


def _header(ctx: PageContext) -> str:
    t = ctx.texts
    look = ctx.look
    logo = ""
    if look.logo_url is not None:
        alt = look.text("logo_alt", t.lang) or ""
        logo = f'<img class="logo" src="{esc(look.logo_url)}" alt="{esc(alt)}">'
    switch = []
    for lang in LANGUAGES:
        name = LANGUAGE_NAMES[lang]
        if lang == t.lang:
            switch.append(f'<li><span aria-current="true" lang="{lang}">{name}</span></li>')
        else:
            href = esc(ctx.language_links[lang])
            switch.append(f'<li><a href="{href}" hreflang="{lang}" lang="{lang}">{name}</a></li>')
    return (
        '<header class="site">'
        f'<div class="brand">{logo}<p class="site-title">{esc(ctx.title)}</p></div>'
        f'<nav class="languages" aria-label="{esc(t("language_label"))}"><ul>'
        + "".join(switch)
        + "</ul></nav></header>"
    )


def _footer(ctx: PageContext) -> str:
    t = ctx.texts
    # A page of no room (the list of rooms) has no cancel page to link to.
    links = [f'<a href="{ctx.room_path}/cancel">{esc(t("footer_cancel"))}</a>'] if ctx.room else []
    if ctx.look.help_url is not None:
        links.append(f'<a href="{esc(ctx.look.help_url)}">{esc(t("footer_help"))}</a>')
    return '<footer class="site">' + " ".join(links) + "</footer>"


# ---------------------------------------------------------------------------------- pieces


def post_button(
    action: str,
    label: str,
    *,
    hidden: Mapping[str, str] | None = None,
    kind: str = "primary",
    extra: str = "",
) -> str:
    """A button that POSTs a small form: works without JavaScript."""
    fields = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in (hidden or {}).items()
    )
    return (
        f'<form class="inline" method="post" action="{esc(action)}">{fields}'
        f'<button type="submit" class="button {kind}"{extra}>{esc(label)}</button></form>'
    )


def link_button(href: str, label: str, kind: str = "primary", extra: str = "") -> str:
    return f'<a class="button {kind}" href="{esc(href)}"{extra}>{esc(label)}</a>'


def notice(text: str, kind: str = "info", *, markup: bool = False) -> str:
    """A boxed message; ``markup`` when ``text`` is already escaped markup."""
    role = ' role="alert"' if kind == "error" else ""
    content = text if markup else esc(text)
    return f'<div class="notice {kind}"{role}>{content}</div>'


def paragraph(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{esc(text)}</p>"


def countdown(
    seconds: float,
    face: str,
    *,
    label: str,
    on_zero: str = "",
    sync: str = "",
    ident: str = "",
    days: str = "",
) -> str:
    """A ticking clock. The script counts down from ``seconds``; ``on_zero`` names what it
    does at zero (``reload``, ``expire``, ``handoff``), ``sync`` the status field that resets
    it after each poll, ``days`` the words the script writes the days in (``Texts.clock_days``;
    a countdown of a day or more). ``role=timer`` keeps screen readers from announcing every
    second."""
    attrs = f' data-countdown="{max(0.0, seconds):.1f}"'
    if on_zero:
        attrs += f' data-on-zero="{esc(on_zero)}"'
    if sync:
        attrs += f' data-sync="{esc(sync)}"'
    if ident:
        attrs += f' id="{esc(ident)}"'
    if days:
        attrs += f' data-days="{esc(days)}"'
    return (
        f'<p class="countdown"><span class="label">{esc(label)}</span> '
        f'<span class="clock" role="timer"{attrs}>{esc(face)}</span></p>'
    )
