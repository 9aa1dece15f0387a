"""A room's own look on the waiting-room page: title, intro text, logo, colours, help link.

Read from the ``[rooms.page]`` table of the configuration (see the README). Texts may be one
string for every language or a table by language (``{ de = "…", en = "…" }``). Colours are
checked for contrast here rather than trusted: the text colour on the accent is chosen for
legibility, and an accent too light to read on white is darkened where it is used as text, so
an operator's brand colour cannot make the page unreadable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pyqueue.errors import ConfigError, unknown_settings
from pyqueue.web.i18n import LANGUAGES

DEFAULT_ACCENT: Final = "#1d4f91"
DEFAULT_HEADER: Final = "#f2f5f9"
#: WCAG 2.x AA for normal text.
MIN_CONTRAST: Final = 4.5
_TEXT_FIELDS: Final = ("title", "intro", "logo_alt")
_FIELDS: Final = frozenset({*_TEXT_FIELDS, "logo_url", "help_url", "accent_color", "header_color"})
_HEX: Final = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class PageLook:
    """How one room's page looks; every field is optional."""

    title: Mapping[str, str] = field(default_factory=dict)
    intro: Mapping[str, str] = field(default_factory=dict)
    logo_url: str | None = None
    logo_alt: Mapping[str, str] = field(default_factory=dict)
    help_url: str | None = None
    accent_color: str = DEFAULT_ACCENT
    header_color: str = DEFAULT_HEADER

    def text(self, name: str, lang: str) -> str | None:
        """A room text in ``lang``, else in the other language, else None."""
        values: Mapping[str, str] = getattr(self, name)
        if lang in values:
            return values[lang]
        for other in LANGUAGES:
            if other in values:
                return values[other]
        return None


def look_from_mapping(data: Mapping[str, Any], where: str = "page") -> PageLook:
    """A :class:`PageLook` from a TOML/JSON table; raises ``ConfigError`` naming the setting."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = set(data) - _FIELDS
    if unknown:
        raise ConfigError(unknown_settings(f"unknown setting(s) of {where}", unknown, _FIELDS))
    values: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        if name in data:
            values[name] = _localized(data[name], f"{where}.{name}")
    for name in ("logo_url", "help_url"):
        if name in data:
            values[name] = _url(data[name], f"{where}.{name}")
    for name in ("accent_color", "header_color"):
        if name in data:
            values[name] = _color(data[name], f"{where}.{name}")
    return PageLook(**values)


def _localized(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, str):
        return dict.fromkeys(LANGUAGES, value)
    if isinstance(value, Mapping):
        unknown = set(value) - set(LANGUAGES)
        if unknown:
            raise ConfigError(f"{where}: languages are {', '.join(LANGUAGES)}")
        if not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where}: every text must be a string")
        return dict(value)
    raise ConfigError(f"{where} must be a string or a table of language = text")


def _url(value: Any, where: str) -> str:
    # Only https and paths on this site: the page's Content-Security-Policy allows no more,
    # and a javascript: link must never become a button.
    if not isinstance(value, str) or not (
        value.startswith("https://") or (value.startswith("/") and not value.startswith("//"))
    ):
        raise ConfigError(f"{where} must be an https:// URL or a path starting with /")
    if any(c in value for c in "\"'<> \t\r\n\\"):
        raise ConfigError(f"{where} contains characters not allowed in a URL")
    return value


def _color(value: Any, where: str) -> str:
    text = value if isinstance(value, str) else ""
    if len(text) not in (4, 7) or text[0] != "#" or not set(text[1:]) <= _HEX:
        raise ConfigError(f"{where} must be a hex colour like #1d4f91")
    if len(text) == 4:
        text = "#" + "".join(c * 2 for c in text[1:])
    return text.lower()


# ---------------------------------------------------------------------------------- colours


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def luminance(color: str) -> float:
    """Relative luminance (WCAG 2.x)."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = _rgb(color)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """The contrast ratio of two colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(background: str) -> str:
    """Near-black or white, whichever reads better on ``background``."""
    dark, light = "#111111", "#ffffff"
    return dark if contrast(dark, background) >= contrast(light, background) else light


def darkened_for(color: str, background: str, minimum: float = MIN_CONTRAST) -> str:
    """``color``, darkened in small steps until it reaches ``minimum`` contrast on
    ``background`` (which must be light enough for that to be possible)."""
    r, g, b = _rgb(color)
    current = color
    for step in range(21):
        factor = 1 - step * 0.05
        current = _hex((r * factor, g * factor, b * factor))
        if contrast(current, background) >= minimum:
            return current
    return "#000000"


def theme_css(look: PageLook) -> str:
    """The room's colours as CSS custom properties (served as a stylesheet, so the page needs
    no inline styles and its Content-Security-Policy can forbid them)."""
    accent = look.accent_color
    header = look.header_color
    return (
        ":root {\n"
        f"  --pq-accent: {accent};\n"
        f"  --pq-on-accent: {readable_on(accent)};\n"
        f"  --pq-accent-text: {darkened_for(accent, '#ffffff')};\n"
        f"  --pq-header: {header};\n"
        f"  --pq-on-header: {readable_on(header)};\n"
        "}\n"
    )
