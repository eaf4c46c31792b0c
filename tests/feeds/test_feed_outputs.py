"""write_feeds: a feed's output key changes exactly when what the feed shows changes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest

from alert_feeds.atom_rss import render_atom
from alert_feeds.context import FeedContext
from alert_feeds.outputs import write_feeds
from alert_feeds.scopes import everything_scope
from alerts.collection import AlertCollection
from alerts.fragments import FragmentStore
from alerts.index import slim_of
from alerts.loader import LoadedContent
from alerts.model import Alert, Attachment, Level, Provenance, Sector, Source, newest_first_key
from alerts.registry import Registry
from alerts.settings import CascadeSettings

TEMPLATES = Path(__file__).resolve().parents[2] / "theme" / "templates"
NOW = datetime(2026, 4, 3, 12, 0, tzinfo=UTC)
SECTORS = {s.slug: s for s in (Sector("retail", "Retail", ""), Sector("banks", "Banks", ""))}
SOURCES = {"met": Source("met", "Met")}
SETTINGS = CascadeSettings(feed_min_items=2, feed_retention_days=10)


@dataclass
class StubGenerator:
    """What write_feeds reads from the alerts generator, and a record of what it emits."""

    loaded: LoadedContent
    provenance: dict[str, Provenance] = field(default_factory=dict)
    cascade: CascadeSettings = SETTINGS
    now: datetime = NOW
    build_key: str = "salt"
    fragments: FragmentStore = field(default_factory=lambda: FragmentStore(None))
    env: jinja2.Environment = field(
        default_factory=lambda: jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES))
    )
    keys: dict[str, str] = field(default_factory=dict)
    renders: dict[str, Callable[[], bytes]] = field(default_factory=dict)

    def emit(self, path: str, parts: tuple[Any, ...], render: Callable[[], bytes]) -> None:
        assert path not in self.keys
        self.keys[path] = hashlib.sha256(repr(parts).encode()).hexdigest()
        self.renders[path] = render

    def emit_page(self, plan: Any) -> None:
        self.emit(plan.path, (plan.template, plan.parts), lambda: b"")


def build(alerts: Sequence[Alert], **overrides: Any) -> StubGenerator:
    loaded = LoadedContent(Registry(SECTORS, SOURCES), AlertCollection.of(alerts), 0)
    generator = StubGenerator(loaded, **overrides)
    write_feeds(generator)
    return generator


def from_records(
    alerts: Sequence[Alert], made: list[str] | None = None, **overrides: Any
) -> StubGenerator:
    """`build` from slim records, as a build's collection is: each alert made when asked for
    (and its id noted in `made`), with the attachment sizes the build found."""
    ordered = sorted(alerts, key=newest_first_key)
    records = [slim_of(alert, SECTORS) for alert in ordered]
    sizes = {a.name: a.size for alert in alerts for a in alert.attachments}

    def make(position: int) -> Alert:
        if made is not None:
            made.append(ordered[position].id)
        return ordered[position]

    collection = AlertCollection.lazily(records, make, sizes)
    generator = StubGenerator(LoadedContent(Registry(SECTORS, SOURCES), collection, 0), **overrides)
    write_feeds(generator)
    return generator


def changed(before: StubGenerator, after: StubGenerator) -> set[str]:
    assert before.keys.keys() == after.keys.keys()
    return {path for path, key in after.keys.items() if before.keys[path] != key}


def feeds(*keys: str) -> set[str]:
    return {f"feeds/{key}{suffix}" for key in keys for suffix in (".atom.xml", ".rss.xml", ".json")}


@pytest.fixture
def archive(make_alert: Callable[..., Alert]) -> list[Alert]:
    """A week of daily alerts, alternating sectors and levels, read from files (hashed)."""
    return [
        make_alert(
            f"day-{n}",
            issued=NOW - timedelta(days=n, hours=1),
            sectors=("retail",) if n % 2 else ("banks",),
            level=Level.AMBER if n % 3 else Level.RED,
            content_hash=f"hash-{n}",
        )
        for n in range(7)
    ]


def test_nothing_changed_nothing_changes(archive: list[Alert]) -> None:
    assert changed(build(archive), build(archive)) == set()


def test_records_give_the_keys_alerts_give_and_make_no_alert(
    archive: list[Alert], make_alert: Callable[..., Alert]
) -> None:
    """A build's feeds are keyed from slim records: the same keys as from the alerts
    (so from fragments too), and no alert is made unless a feed is rendered."""
    alerts = [
        replace(archive[0], attachments=(Attachment("a.pdf", 10, "application/pdf"),)),
        *archive[1:],
        make_alert("for-all", issued=NOW, sectors=("all",), content_hash="all"),
        make_alert("update", issued=NOW, updates="day-3", content_hash="u"),
        make_alert("orphan", issued=NOW, updates="gone", content_hash="o", sectors=("banks",)),
    ]
    provenance = {"day-1": Provenance("c" * 40, "SHA256:x", "Signer")}
    made: list[str] = []
    records = from_records(alerts, made, provenance=provenance)
    assert made == []
    assert records.keys == build(alerts, provenance=provenance).keys
    rendered = records.renders["feeds/sectors/retail.atom.xml"]()
    assert (
        rendered == build(alerts, provenance=provenance).renders["feeds/sectors/retail.atom.xml"]()
    )
    assert "update" in made


def test_a_stored_entry_is_spliced_without_making_its_alert(archive: list[Alert]) -> None:
    store = FragmentStore(None)
    from_records(archive, fragments=store).renders["feeds/all.atom.xml"]()
    made: list[str] = []
    again = from_records(archive, made, fragments=store).renders["feeds/all.atom.xml"]()
    assert again == build(archive).renders["feeds/all.atom.xml"]()
    assert made == ["day-0"]  # only the newest: its `updated` dates the feed


def test_a_new_alert_changes_only_the_feeds_that_carry_it(
    archive: list[Alert], make_alert: Callable[..., Alert]
) -> None:
    new = make_alert("new", issued=NOW, sectors=("retail",), level=Level.GREEN, content_hash="n")
    assert changed(build(archive), build([*archive, new])) == feeds(
        "all", "levels/green", "sectors/retail", "sectors/retail/green"
    )


def test_an_edited_file_changes_its_feeds(archive: list[Alert]) -> None:
    day1 = archive[1]  # retail, amber
    edited = [replace(day1, title="Edited", content_hash="edited"), *archive[:1], *archive[2:]]
    assert changed(build(archive), build(edited)) == feeds(
        "all", "levels/amber", "sectors/retail", "sectors/retail/urgent", "sectors/retail/amber"
    )


def test_signer_attachment_size_and_parent_date_change_feeds(
    archive: list[Alert], make_alert: Callable[..., Alert]
) -> None:
    day0 = archive[0]  # banks, red
    before = build(archive)
    signed = build(archive, provenance={day0.id: Provenance("c" * 40, "SHA256:x", "Signer")})
    assert "feeds/sectors/banks/red.json" in changed(before, signed)
    resized = replace(day0, attachments=(Attachment("a.pdf", 10, "application/pdf"),))
    bigger = replace(day0, attachments=(Attachment("a.pdf", 11, "application/pdf"),))
    assert "feeds/sectors/banks/red.json" in changed(
        build([resized, *archive[1:]]), build([bigger, *archive[1:]])
    )
    # An update names its parent's tag id, which carries the parent's issue date: the
    # parent's file, edited to move it, has a new hash.
    update = make_alert(
        "update", issued=NOW, updates=day0.id, content_hash="u", sectors=("retail",)
    )
    moved = replace(day0, issued=day0.issued - timedelta(days=20), content_hash="moved")
    assert "feeds/sectors/retail.json" in changed(
        build([*archive, update]), build([moved, *archive[1:], update])
    )


def test_an_alert_not_read_from_a_file_is_named_by_every_field(
    archive: list[Alert],
) -> None:
    unhashed = [replace(alert, content_hash="") for alert in archive]
    retitled = [replace(unhashed[0], title="Other"), *unhashed[1:]]
    assert "feeds/all.atom.xml" in changed(build(unhashed), build(retitled))


def test_emitted_feeds_render_what_the_renderers_render(archive: list[Alert]) -> None:
    generator = build(archive)
    ctx = FeedContext(
        settings=generator.cascade,
        sectors=SECTORS,
        sources=SOURCES,
        provenance={},
        alerts={alert.id: alert for alert in archive},
    )
    # min_items 2, 10 days: the whole week is recent.
    assert generator.renders["feeds/all.atom.xml"]() == render_atom(
        everything_scope(), archive, ctx
    )
