"""Errors that several layers raise: a leaf module, importing nothing of pyqueue, so that the
configuration and the page's settings (``pyqueue.web.appearance``), which the configuration
checks, can both raise them without importing each other."""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting that cannot work; the message names it."""

    code = "invalid_config"
