"""Cascade's alerts plugin: strict alert files in, a reverse-chronological site out."""

from __future__ import annotations

from typing import Any

# Pelican is imported only when Pelican loads the plugin: publish.py imports this package's
# light modules (errors, settings, the build stamp) on every run, and importing Pelican
# costs half a second that a rebuild with nothing changed must not pay.


def _generators(pelican: Any) -> type:
    from .generator import AlertsGenerator

    return AlertsGenerator


def register() -> None:
    from pelican import signals

    signals.get_generators.connect(_generators)
