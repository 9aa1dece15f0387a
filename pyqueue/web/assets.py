"""The page's static files, read once into memory and served with a content version.

There are only a few small files, and during a surge every visitor loads them; serving them
from memory with a version in the URL lets browsers (and a CDN in front) keep them for a year,
while a new release changes the URL. Only the files listed here are served, so no request
path ever reaches the file system.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

STATIC_DIR: Final = Path(__file__).parent / "static"
#: URL prefix of the static files.
STATIC_PREFIX: Final = "/pyqueue/static/"
_TYPES: Final = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
FILES: Final = ("page.css", "page.js", "challenge.js", "challenge-worker.js")


def version_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:12]


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    version: str


@dataclass(frozen=True)
class Assets:
    files: Mapping[str, Asset]

    @classmethod
    def load(cls, directory: Path = STATIC_DIR) -> Assets:
        files = {}
        for name in FILES:
            body = (directory / name).read_bytes()
            files[name] = Asset(body, _TYPES[Path(name).suffix], version_of(body))
        return cls(files)

    def url(self, name: str) -> str:
        return f"{STATIC_PREFIX}{name}?v={self.files[name].version}"
