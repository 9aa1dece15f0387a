"""Errors that several layers raise: a leaf module, importing nothing of pyqueue, so that the
configuration and the page's settings (``pyqueue.web.appearance``), which the configuration
checks, can both raise them without importing each other."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager


class ConfigError(ValueError):
    """Settings that cannot work; the message names each one (``problems``: one line each)."""

    code = "invalid_config"

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems) or (message,)

    @classmethod
    def of(cls, problems: Sequence[str]) -> ConfigError:
        """One error reporting every mistake in ``problems``."""
        if len(problems) == 1:
            return cls(problems[0])
        lines = "\n".join(f"- {problem}" for problem in problems)
        return cls(f"{len(problems)} mistakes:\n{lines}", problems)


class Problems:
    """Collects the mistakes of a configuration, so that an operator sees all of them at once
    rather than fixing one, restarting, and meeting the next."""

    def __init__(self) -> None:
        self.found: list[str] = []

    @contextmanager
    def check(self) -> Iterator[None]:
        """Runs one independent check; a :class:`ConfigError` it raises is kept, not raised."""
        try:
            yield
        except ConfigError as exc:
            self.found.extend(exc.problems)

    def add(self, problem: str) -> None:
        self.found.append(problem)

    def raise_any(self) -> None:
        if self.found:
            raise ConfigError.of(self.found)


def unknown_settings(prefix: str, unknown: Iterable[str], known: Iterable[str]) -> str:
    """``prefix: name, …``, with the known setting a misspelt name is closest to."""
    choices = sorted(known)
    names = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, choices, n=1)
        names.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return f"{prefix}: {', '.join(names)}"
