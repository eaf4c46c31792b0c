"""Cascade's alerts plugin: strict alert files in, a reverse-chronological site out."""

from __future__ import annotations

from typing import Any

from pelican import signals


def _generators(pelican: Any) -> type:
    from .generator import AlertsGenerator

    return AlertsGenerator


def register() -> None:
    signals.get_generators.connect(_generators)
