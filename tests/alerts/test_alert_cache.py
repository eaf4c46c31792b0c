"""cache.AlertCache: what a build may take from the last one, and what it must read again."""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import alerts.journal
from alerts.cache import AlertCache, BodyStore
from alerts.errors import ContentError, Problem
from alerts.loader import LoadedContent, load_content
from alerts.registry import load_registry
from alerts.validate import ParsedAlert
from alerts.wal import WAL_LIMIT_BYTES

MakeAlert = Callable[..., bytes]
NOW = datetime(2017, 4, 25, 12, 0, tzinfo=UTC)
TOLERANCE = timedelta(minutes=5)


def write(content: Path, rel: str, raw: bytes) -> None:
    path = content / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)


def load(content: Path, store: Path, settled: bool = True) -> tuple[LoadedContent, AlertCache]:
    """One build's load and save; `settled` pretends the files were written long ago."""
    cache = AlertCache(store, "code")
    loaded = load_content(content, NOW, TOLERANCE, cache)
    if settled:
        cache.started_ns = 2**62  # long after every file was written
    cache.save()
    return loaded, cache


def bodies(loaded: LoadedContent) -> dict[str, str]:
    return {alert.id: alert.body_html for alert in loaded.collection.alerts}


@pytest.fixture
def archive(content: Path, make_alert: MakeAlert) -> Path:
    write(content, "alerts/2017/2017-04-20-first.md", make_alert())
    write(
        content,
        "alerts/2017/2017-04-21-second.md",
        make_alert(
            issued='"2017-04-21T08:00:00+01:00"',
            updates="2017-04-20-first",
            body="A *second* alert.\n",
        ),
    )
    write(
        content,
        "alerts/2017/2017-04-22-third.md",
        make_alert(issued='"2017-04-22T08:00:00Z"', expires='"2017-04-23T08:00:00Z"'),
    )
    write(
        content,
        "alerts/2017/2017-04-23-fourth.md",
        make_alert(
            issued='"2017-04-23T08:00:00+02:00"',
            level="amber",
            status="withdrawn",
            corrections='[{at: "2017-04-23T09:00:00+02:00", note: "Sent in error."}]',
            topics="[fraud]",
            summary='"A summary of its own."',
        ),
    )
    return content


def test_a_second_build_parses_and_reads_nothing_and_sees_the_same_alerts(
    archive: Path, tmp_path: Path
) -> None:
    store = tmp_path / "cache" / "alerts"
    first, cache = load(archive, store)
    assert cache.parsed == 4
    second, cache = load(archive, store)
    assert (cache.parsed, cache.hashed) == (0, 0)
    assert list(second.collection.alerts) == list(first.collection.alerts)  # bodies too
    assert bodies(second) == bodies(first)
    assert [a.content_hash for a in second.collection.alerts] == [
        a.content_hash for a in first.collection.alerts
    ]


def test_changed_added_and_removed_files_are_seen(
    archive: Path, tmp_path: Path, make_alert: MakeAlert
) -> None:
    store = tmp_path / "cache" / "alerts"
    load(archive, store)
    write(archive, "alerts/2017/2017-04-20-first.md", make_alert(title='"Changed title"'))
    write(archive, "alerts/2017/2017-04-24-fourth.md", make_alert(issued='"2017-04-24T08:00:00Z"'))
    (archive / "alerts/2017/2017-04-22-third.md").unlink()
    second, cache = load(archive, store)
    assert cache.parsed == 2
    assert store.with_suffix(".log").is_file(), "one build's changes are appended"
    cold = load_content(archive, NOW, TOLERANCE, AlertCache(None, "code"))
    assert list(second.collection.alerts) == list(cold.collection.alerts)

    third, cache = load(archive, store)
    assert (cache.parsed, cache.hashed) == (0, 0)
    assert list(third.collection.alerts) == list(cold.collection.alerts)
    assert bodies(third) == bodies(cold)


def test_a_file_changed_soon_before_its_build_is_hashed_again(
    archive: Path, tmp_path: Path
) -> None:
    store = tmp_path / "cache" / "alerts"
    load(archive, store, settled=False)  # written a moment ago: its stamp may not move
    _, cache = load(archive, store)
    assert (cache.parsed, cache.hashed) == (0, 4)
    _, cache = load(archive, store)
    assert (cache.parsed, cache.hashed) == (0, 0)


def test_a_registry_change_validates_every_file_again(archive: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache" / "alerts"
    load(archive, store)
    sectors = archive / "sectors.yml"
    sectors.write_text(sectors.read_text().replace("- slug: banking", "- slug: banks"))
    with pytest.raises(ContentError) as caught:
        load_content(archive, NOW, TOLERANCE, AlertCache(store, "code"))
    assert {p.field for p in caught.value.problems} == {"sectors[1]"}


def test_new_code_parses_every_file_again(archive: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache" / "alerts"
    load(archive, store)
    cache = AlertCache(store, "other code")
    load_content(archive, NOW, TOLERANCE, cache)
    assert cache.parsed == 4


def test_a_torn_log_is_left_behind_and_folded_into_the_index(
    archive: Path, tmp_path: Path, make_alert: MakeAlert
) -> None:
    store = tmp_path / "cache" / "alerts"
    load(archive, store)
    write(archive, "alerts/2017/2017-04-20-first.md", make_alert(title='"Changed title"'))
    load(archive, store)
    log = store.with_suffix(".log")
    log.write_bytes(log.read_bytes()[:-7])  # a build killed while appending
    write(archive, "alerts/2017/2017-04-20-first.md", make_alert(title='"Again"'))
    loaded, cache = load(archive, store)
    assert cache.parsed == 1
    assert not log.exists()
    assert loaded.collection.by_id["2017-04-20-first"].title == "Again"
    _, cache = load(archive, store)
    assert (cache.parsed, cache.hashed) == (0, 0)


def test_a_long_log_is_folded_into_the_index(
    archive: Path, tmp_path: Path, make_alert: MakeAlert, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts.journal, "MIN_LOG_BYTES", 0)
    monkeypatch.setattr(alerts.journal, "LOG_SHARE", 1000)
    store = tmp_path / "cache" / "alerts"
    load(archive, store)
    write(archive, "alerts/2017/2017-04-20-first.md", make_alert(title='"Changed title"'))
    load(archive, store)
    assert store.with_suffix(".log").exists()
    loaded, cache = load(archive, store)
    assert not store.with_suffix(".log").exists()
    assert loaded.collection.by_id["2017-04-20-first"].title == "Changed title"
    _, cache = load(archive, store)
    assert (cache.parsed, cache.hashed) == (0, 0)


def test_a_lost_body_store_means_parsing_again(archive: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache" / "alerts"
    first, _ = load(archive, store)
    store.with_suffix(".sqlite").unlink()
    second, cache = load(archive, store)
    assert cache.parsed == 4
    assert bodies(second) == bodies(first)


def test_a_body_missing_from_the_store_is_read_from_its_file(archive: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache" / "alerts"
    first, _ = load(archive, store)
    db = sqlite3.connect(store.with_suffix(".sqlite"))
    with db:
        db.execute("DELETE FROM body")
    second, cache = load(archive, store)
    assert cache.parsed == 0
    assert bodies(second) == bodies(first)


def test_a_cached_alert_is_made_with_a_few_fields_and_equals_the_parsed_one(
    archive: Path, tmp_path: Path
) -> None:
    store = tmp_path / "cache" / "alerts"
    first, _ = load(archive, store)
    second, _ = load(archive, store)
    for position, alert in enumerate(second.collection.alerts):
        assert "title" not in alert.__dict__  # not decoded: nothing read it yet
        parsed = first.collection.alerts[position]
        assert (alert.id, alert.content_hash) == (parsed.id, parsed.content_hash)
        assert alert == parsed and parsed == alert and hash(alert) == hash(parsed)
        assert repr(alert) == repr(parsed)
        assert "title" in alert.__dict__


def test_a_cached_alert_pickles_with_its_body(archive: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache" / "alerts"
    first, _ = load(archive, store)
    second, _ = load(archive, store)
    alert = second.collection.by_id["2017-04-21-second"]
    assert "body_html" not in alert.__dict__  # not read until asked for
    copy = pickle.loads(pickle.dumps(alert))
    assert copy.body_html == first.collection.by_id["2017-04-21-second"].body_html
    assert "<em>second</em>" in copy.body_html


def test_problems_come_back_from_the_cache(
    content: Path, tmp_path: Path, make_alert: MakeAlert
) -> None:
    write(content, "alerts/2017/2017-04-20-bad.md", make_alert(level="purple"))
    rels = ["alerts/2017/2017-04-20-bad.md"]
    registry = load_registry(content)
    store = tmp_path / "cache" / "alerts"
    cache = AlertCache(store, "code")
    [first] = cache.read_all(content, rels, registry)
    cache.started_ns = 2**62  # long after every file was written
    cache.save()
    cache = AlertCache(store, "code")
    [second] = cache.read_all(content, rels, registry)
    assert cache.parsed == 0
    assert isinstance(first, list) and all(isinstance(p, Problem) for p in first)
    assert second == first


def test_without_a_path_nothing_is_kept(archive: Path) -> None:
    cache = AlertCache(None, "code")
    loaded = load_content(archive, NOW, TOLERANCE, cache)
    cache.save()
    assert cache.parsed == 4
    assert all(isinstance(a.body_html, str) for a in loaded.collection.alerts)


def test_an_unreadable_file_is_a_problem(content: Path, tmp_path: Path) -> None:
    (content / "alerts" / "2017").mkdir()
    (content / "alerts/2017/2017-04-20-gone.md").symlink_to(content / "missing.md")
    with pytest.raises(ContentError) as caught:
        load_content(content, NOW, TOLERANCE, AlertCache(tmp_path / "c" / "alerts", "code"))
    [problem] = caught.value.problems
    assert problem.message.startswith("cannot be read")


def test_parsed_alerts_keep_their_lines(archive: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache" / "alerts"
    rels = sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*.md"))
    registry = load_registry(archive)
    cache = AlertCache(store, "code")
    first = cache.read_all(archive, rels, registry)
    cache.started_ns = 2**62  # long after every file was written
    cache.save()
    again = AlertCache(store, "code").read_all(archive, rels, registry)
    assert all(isinstance(p, ParsedAlert) for p in again)
    assert [p.lines for p in again] == [p.lines for p in first]  # type: ignore[union-attr]


# The cross-file rules, for alerts the cache already holds (none of them parsed again)


def problems_of(content: Path, store: Path, now: datetime = NOW) -> list[tuple[str, str, str]]:
    cache = AlertCache(store, "code")
    with pytest.raises(ContentError) as caught:
        load_content(content, now, TOLERANCE, cache)
    return [(p.path, p.field, p.message) for p in caught.value.problems]


def test_an_unchanged_alert_whose_parent_is_gone_is_refused(archive: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache" / "alerts"
    load(archive, store)
    (archive / "alerts/2017/2017-04-20-first.md").unlink()
    assert problems_of(archive, store) == [
        (
            "alerts/2017/2017-04-21-second.md",
            "updates",
            "'2017-04-20-first' is not an alert id in content/alerts/",
        )
    ]


def test_an_unchanged_alert_is_in_the_future_of_an_earlier_clock(
    archive: Path, tmp_path: Path
) -> None:
    store = tmp_path / "cache" / "alerts"
    load(archive, store)
    earlier = datetime(2017, 4, 21, 12, 0, tzinfo=UTC)
    assert [p[:2] for p in problems_of(archive, store, earlier)] == [
        ("alerts/2017/2017-04-22-third.md", "issued"),
        ("alerts/2017/2017-04-23-fourth.md", "issued"),
        ("alerts/2017/2017-04-23-fourth.md", "corrections"),
    ]


def test_a_missing_attachment_of_an_unchanged_alert_is_refused(
    content: Path, tmp_path: Path, make_alert: MakeAlert
) -> None:
    (content / "attachments" / "plan.pdf").write_bytes(b"%PDF")
    write(content, "alerts/2017/2017-04-20-first.md", make_alert(attachments="[plan.pdf]"))
    store = tmp_path / "cache" / "alerts"
    loaded, _ = load(content, store)
    [attachment] = loaded.collection.alerts[0].attachments
    assert attachment.size == 4
    (content / "attachments" / "plan.pdf").write_bytes(b"%PDF-1.7")
    loaded, cache = load(content, store)
    assert cache.parsed == 0 and loaded.collection.alerts[0].attachments[0].size == 8
    (content / "attachments" / "plan.pdf").unlink()
    assert [p[:2] for p in problems_of(content, store)] == [
        ("alerts/2017/2017-04-20-first.md", "attachments[0]")
    ]


def test_one_id_in_two_folders_is_refused(
    archive: Path, tmp_path: Path, make_alert: MakeAlert
) -> None:
    store = tmp_path / "cache" / "alerts"
    load(archive, store)
    write(archive, "alerts/2018/2017-04-20-first.md", make_alert())
    # The folder must be the id's year, so the copy is refused before ids are compared.
    assert [p[:2] for p in problems_of(archive, store)] == [
        ("alerts/2018/2017-04-20-first.md", "id")
    ]


def test_one_id_in_a_year_and_a_month_folder_is_refused(
    archive: Path, tmp_path: Path, make_alert: MakeAlert
) -> None:
    # Both places are valid for the id's date (month folders, and year folders as before),
    # so only the id check can catch the copy.
    store = tmp_path / "cache" / "alerts"
    load(archive, store)
    write(archive, "alerts/2017/04/2017-04-20-first.md", make_alert())
    others = "alerts/2017/04/2017-04-20-first.md, alerts/2017/2017-04-20-first.md"
    message = f"'2017-04-20-first' is used by more than one file ({others})"
    assert problems_of(archive, store) == [
        ("alerts/2017/04/2017-04-20-first.md", "id", message),
        ("alerts/2017/2017-04-20-first.md", "id", message),
    ]


def test_item_lines_from_slim_records_are_those_of_the_alerts(
    archive: Path, tmp_path: Path
) -> None:
    from alerts.pages import ItemKeys

    store = tmp_path / "cache" / "alerts"
    load(archive, store)
    second, _ = load(archive, store)
    slims = second.collection.slims
    assert slims is not None
    for now in (NOW, datetime(2017, 4, 22, 12, 0, tzinfo=UTC), datetime(2017, 4, 30, tzinfo=UTC)):
        keys = ItemKeys(now, 7)
        assert keys.slim_lines(slims) == [keys.line(a) for a in second.collection.alerts]


def test_the_store_log_is_cut_back_after_a_cold_build(tmp_path: Path) -> None:
    """A cold build writes every body at once; the write-ahead log must not stay that size
    (every later build would pay for it)."""
    path = tmp_path / "alerts.sqlite"
    store = BodyStore(path, "code")
    body = "x" * 4096
    store.add({f"{n:064x}": (body, b"fields") for n in range(6000)})  # ~25 MB in one go
    store.add({"f" * 64: (body, b"fields")})  # the next write starts the log again
    wal = path.with_name(path.name + "-wal")
    assert wal.stat().st_size <= WAL_LIMIT_BYTES
    store.close()


@pytest.mark.parametrize(
    "damage",
    [b"", b"\x00", b"not marshal at all", None],
    ids=["empty", "one-byte", "garbage", "cut-short"],
)
def test_a_damaged_snapshot_reads_as_empty(tmp_path: Path, damage: bytes | None) -> None:
    """The snapshot is read through a memory map: an empty or damaged file is an empty
    journal (the build starts afresh), never an error."""
    from alerts.journal import Journal

    journal = Journal(tmp_path / "alerts", "tag")
    journal.save({"a": (1, "x")}, {"a": (1, "x")})
    assert Journal(tmp_path / "alerts", "tag").load() == {"a": (1, "x")}
    whole = journal.index.read_bytes()
    journal.index.write_bytes(whole[: len(whole) // 2] if damage is None else damage)
    assert Journal(tmp_path / "alerts", "tag").load() == {}
