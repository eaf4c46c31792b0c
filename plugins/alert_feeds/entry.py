"""What an entry says beyond the alert's own text: its categories and Cascade's own facts.

Apart from context.py because only an entry being rendered needs them, and most builds
render none: each class costs about a millisecond to make at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alerts.model import Provenance


@dataclass(frozen=True)
class Category:
    """One Atom category / RSS category / JSON tag; `label` is None when there is no name."""

    term: str
    scheme: str
    label: str | None


@dataclass(frozen=True)
class ThreadParent:
    """The alert an update follows, as RFC 4685 names it: its entry id and its page."""

    ref: str
    href: str


@dataclass(frozen=True)
class EntryMetadata:
    """Cascade's own per-entry facts, written as `cascade:*` elements and JSON `_cascade`."""

    level: str
    sectors: tuple[str, ...]
    sources: tuple[str, ...]
    updates: ThreadParent | None
    expires: datetime | None
    status: str
    provenance: Provenance | None
