"""Cascade's feeds plugin: Atom, RSS and JSON Feed per sector and level, plus OPML lists."""

from __future__ import annotations

from alerts.events import write_outputs

from .outputs import write_feeds


def register() -> None:
    write_outputs.connect(write_feeds)
