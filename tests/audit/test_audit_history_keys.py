"""History page keys: made from slim records in bulk, and changed by exactly what the page
shows (the alert's file, its revisions, what every history shows alike)."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

from alerts.collection import AlertCollection
from alerts.index import ID, SHA
from audit import site

IDS = ("2024-05-01-a", "2024-05-01-b", "2024-05-01-c")


def slim(alert_id: str, content: str) -> tuple[Any, ...]:
    record: list[Any] = [None] * 12
    record[0], record[ID] = f"key {alert_id}", alert_id
    record[SHA] = hashlib.sha256(content.encode()).hexdigest()
    return tuple(record)


class Site:
    """What _emit_histories needs of the generator: the collection, and a writer that keeps
    pages whose key is as published."""

    def __init__(self) -> None:
        self.published: dict[str, str] = {}
        self.emitted: dict[str, str] = {}
        self.made: list[int] = []
        self.loaded: Any = None
        self.carrying = False  # every history page looked at

    def build(self, slims: list[tuple[Any, ...]], audit: Any) -> list[str]:
        def make(position: int) -> Any:
            self.made.append(position)
            return SimpleNamespace(id=slims[position][ID])

        self.loaded = SimpleNamespace(collection=AlertCollection.lazily(slims, make))
        self.emitted, self.made = {}, []
        site._emit_histories(self, audit)
        self.published.update(self.emitted)
        return sorted(self.emitted)

    def unchanged_endings(self, rels: list[str], endings: list[str]) -> list[int]:
        return [
            p
            for p, (r, e) in enumerate(zip(rels, endings, strict=True))
            if self.published.get(r) != e
        ]

    def emit_page(self, page: Any) -> None:
        self.emitted[page.path] = page.key


def audit(digests: dict[str, str], salt: str = "", problem: str | None = None) -> Any:
    histories = SimpleNamespace(digests=lambda: dict(digests))
    revisions = SimpleNamespace(histories=histories, salt=salt)
    return SimpleNamespace(report=SimpleNamespace(revisions=revisions), problem=problem)


def page(alert_id: str) -> str:
    return f"alerts/{alert_id}/history/index.html"


def test_a_history_page_is_made_again_only_when_what_it_shows_changed() -> None:
    slims = [slim(alert_id, "v1") for alert_id in IDS]
    digests = {IDS[0]: "1" * 32, IDS[1]: "2" * 32}  # the third has no revisions
    out = Site()
    assert out.build(slims, audit(digests)) == sorted(map(page, IDS))
    assert len(set(map(len, out.published.values()))) == 1  # one length: see site._FILE
    assert out.build(slims, audit(digests)) == []
    assert out.made == []  # no Alert built for an unchanged history
    # A new revision; then a changed file.
    assert out.build(slims, audit({**digests, IDS[1]: "3" * 32})) == [page(IDS[1])]
    assert out.made == [1]
    slims[2] = slim(IDS[2], "v2")
    assert out.build(slims, audit({**digests, IDS[1]: "3" * 32})) == [page(IDS[2])]
    # What every history shows alike: withdrawn commits, or why there is no audit.
    changed = audit({**digests, IDS[1]: "3" * 32}, salt="4" * 32)
    assert out.build(slims, changed) == sorted(map(page, IDS))
    unaudited = SimpleNamespace(report=None, problem="not a git repository")
    assert out.build(slims, unaudited) == sorted(map(page, IDS))
    assert out.build(slims, unaudited) == []
