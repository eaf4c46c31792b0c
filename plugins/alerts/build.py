"""Run a Pelican build with our plugins, from settings files and per-build overrides."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import BuildError, SettingsError
from .events import build_published


class ErrorCollector(logging.Handler):
    """Pelican logs problems and carries on; the build keeps its own list and fails on it."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def load_settings(config: Path, overrides: Mapping[str, Any]) -> dict[str, Any]:
    from pelican.settings import read_settings

    if not config.is_file():
        raise SettingsError("settings", f"{config} does not exist")
    settings: dict[str, Any] = read_settings(str(config), override=dict(overrides))
    for key in ("STATIC_PATHS", "THEME_STATIC_PATHS"):
        if settings.get(key):
            raise SettingsError(
                key, "must be [] (Cascade publishes attachments and theme files itself)"
            )
    if "alerts" not in [str(p) for p in settings.get("PLUGINS") or []]:
        raise SettingsError("PLUGINS", "must include 'alerts'")
    return settings


def run_pelican(settings: dict[str, Any]) -> Any:
    """Run Pelican; returns the alerts generator, which holds the build's statistics."""
    from pelican import Pelican
    from pelican.log import console

    published: list[Any] = []

    def keep(generator: Any) -> None:
        published.append(generator)

    errors = ErrorCollector()
    logging.getLogger("pelican").addHandler(errors)
    build_published.connect(keep, weak=False)
    quiet = console.quiet
    console.quiet = True  # Pelican's "Processed 0 articles" summary would only mislead
    try:
        pelican = Pelican(settings)
        if errors.messages:  # a plugin that failed to register would silently go missing
            raise BuildError("Pelican could not start:\n" + "\n".join(errors.messages))
        pelican.run()
    finally:
        console.quiet = quiet
        build_published.disconnect(keep)
        logging.getLogger("pelican").removeHandler(errors)
    if not published:
        raise BuildError("the alerts generator did not run (is 'alerts' in PLUGINS?)")
    return published[0]
