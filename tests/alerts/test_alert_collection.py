"""collection: rules across alert files, and the indexes listings are built from."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerts.cache import AlertCache
from alerts.collection import AlertCollection, check_collection, resolve_attachment, sector_scopes
from alerts.errors import ContentError, Problem
from alerts.loader import load_content
from alerts.model import Alert, Attachment, Level
from alerts.validate import ParsedAlert

BST = timezone(timedelta(hours=1))
FIVE_MINUTES = timedelta(minutes=5)
NOW = datetime(2017, 4, 25, 12, 0, tzinfo=BST)

Build = Callable[..., ParsedAlert]


@pytest.fixture(scope="module")
def build(parse, make_alert) -> Build:
    """`build(slug, issued, **fields)`: a parsed alert filed under the date it was issued."""

    def make(slug: str, issued: str, body: str | None = None, **fields: str) -> ParsedAlert:
        path = f"alerts/{issued[:4]}/{issued[:10]}-{slug}.md"
        extra = {} if body is None else {"body": body}
        result = parse(make_alert(issued=f'"{issued}"', **fields, **extra), path)
        assert isinstance(result, ParsedAlert), result
        return result

    return make


def check(parsed: list[ParsedAlert], content: Path, now: datetime = NOW):
    return check_collection(parsed, now, FIVE_MINUTES, content)


# Duplicate ids and threads


def test_duplicate_ids_are_reported_on_every_file(build: Build, content: Path) -> None:
    first = build("cordon", "2017-04-20T21:30:00+01:00")
    second = replace(first, alert=replace(first.alert, path="alerts/2017/copy.md"))
    _, problems = check([first, second], content)
    message = (
        "'2017-04-20-cordon' is used by more than one file "
        "(alerts/2017/2017-04-20-cordon.md, alerts/2017/copy.md)"
    )
    assert problems == [
        Problem("alerts/2017/2017-04-20-cordon.md", 1, "id", message),
        Problem("alerts/2017/copy.md", 1, "id", message),
    ]


def test_updates_must_point_at_a_real_alert(build: Build, content: Path) -> None:
    update = build("cordon", "2017-04-20T21:30:00+01:00", updates="2017-04-19-no-such-alert")
    _, problems = check([update], content)
    assert problems == [
        Problem(
            "alerts/2017/2017-04-20-cordon.md",
            7,
            "updates",
            "'2017-04-19-no-such-alert' is not an alert id in content/alerts/",
        )
    ]


@pytest.mark.parametrize(
    "parent_issued",
    ["2017-04-20T22:00:00+01:00", "2017-04-20T21:30:00+01:00", "2017-04-20T20:30:00Z"],
    ids=["later", "same-time", "same-instant-other-offset"],
)
def test_updates_must_point_at_an_earlier_alert(
    build: Build, content: Path, parent_issued: str
) -> None:
    parent = build("parent", parent_issued)
    update = build("cordon", "2017-04-20T21:30:00+01:00", updates="2017-04-20-parent")
    _, problems = check([parent, update], content)
    assert problems == [
        Problem(
            "alerts/2017/2017-04-20-cordon.md",
            7,
            "updates",
            "'2017-04-20-parent' must be issued before this alert",
        )
    ]


def test_updates_an_earlier_alert_is_fine(build: Build, content: Path) -> None:
    parent = build("parent", "2017-04-19T09:00:00Z")
    update = build("cordon", "2017-04-20T09:00:00+01:00", updates="2017-04-19-parent")
    alerts, problems = check([parent, update], content)
    assert problems == []
    assert [a.id for a in alerts] == ["2017-04-19-parent", "2017-04-20-cordon"]


# The clock


@pytest.mark.parametrize(
    ("ahead", "allowed"),
    [
        (timedelta(0), True),
        (FIVE_MINUTES, True),
        (FIVE_MINUTES + timedelta(seconds=1), False),
        (timedelta(days=365), False),
    ],
    ids=["now", "exactly-five-minutes", "five-minutes-and-a-second", "a-year"],
)
def test_alert_issued_in_the_future(
    build: Build, content: Path, ahead: timedelta, allowed: bool
) -> None:
    alert = build("cordon", "2017-04-20T21:30:00+01:00")
    now = alert.alert.issued - ahead
    _, problems = check([alert], content, now=now)
    if allowed:
        assert problems == []
    else:
        assert problems == [
            Problem(
                "alerts/2017/2017-04-20-cordon.md",
                4,
                "issued",
                f"2017-04-20T21:30:00+01:00 is in the future (at most 5 minutes after now, "
                f"{now.isoformat(timespec='seconds')}; check the year)",
            )
        ]


def test_future_rule_compares_instants_not_wall_clocks(build: Build, content: Path) -> None:
    alert = build("cordon", "2017-04-20T21:30:00+01:00")
    now_in_utc = datetime(2017, 4, 20, 20, 25, tzinfo=UTC)  # 21:25 BST
    assert check([alert], content, now=now_in_utc)[1] == []


def test_correction_in_the_future_is_reported(build: Build, content: Path) -> None:
    alert = build(
        "cordon",
        "2017-04-20T21:30:00+01:00",
        corrections='[{at: "2017-04-20T23:00:00+01:00", note: "Widened."}]',
    )
    now = datetime(2017, 4, 20, 22, 0, tzinfo=BST)
    assert check([alert], content, now=now)[1] == [
        Problem(
            "alerts/2017/2017-04-20-cordon.md",
            7,
            "corrections",
            "2017-04-20T23:00:00+01:00 is in the future",
        )
    ]


# Attachments


def attached(build: Build, *names: str) -> ParsedAlert:
    listed = ", ".join(f'"{name}"' for name in names)
    return build("cordon", "2017-04-20T21:30:00+01:00", attachments=f"[{listed}]")


def attachment_problem(index: int, message: str) -> Problem:
    return Problem("alerts/2017/2017-04-20-cordon.md", 7, f"attachments[{index}]", message)


def test_attachments_get_their_size(build: Build, content: Path) -> None:
    (content / "attachments" / "maps").mkdir()
    (content / "attachments" / "bulletin.pdf").write_bytes(b"%PDF" + b"x" * 96)
    (content / "attachments" / "maps" / "cordon.png").write_bytes(b"png")
    alerts, problems = check([attached(build, "bulletin.pdf", "maps/cordon.png")], content)
    assert problems == []
    assert alerts[0].attachments == (
        Attachment("bulletin.pdf", 100, "application/pdf"),
        Attachment("maps/cordon.png", 3, "image/png"),
    )


def test_missing_attachment_is_reported(build: Build, content: Path) -> None:
    (content / "attachments" / "here.pdf").write_bytes(b"x")
    alerts, problems = check([attached(build, "here.pdf", "gone.pdf")], content)
    assert problems == [attachment_problem(1, "'gone.pdf' does not exist in content/attachments/")]
    assert [a.name for a in alerts[0].attachments] == ["here.pdf"]


def test_attachment_below_a_file_is_reported_not_raised(build: Build, content: Path) -> None:
    (content / "attachments" / "a.pdf").write_bytes(b"x")
    assert check([attached(build, "a.pdf/inner.pdf")], content)[1] == [
        attachment_problem(0, "'a.pdf/inner.pdf' does not exist in content/attachments/")
    ]


def test_attachment_that_is_a_folder_is_reported(build: Build, content: Path) -> None:
    (content / "attachments" / "maps").mkdir()
    assert check([attached(build, "maps")], content)[1] == [
        attachment_problem(0, "'maps' is not a file")
    ]


def test_symlinked_attachment_pointing_outside_is_refused(
    build: Build, content: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (content / "attachments" / "notes.txt").symlink_to(secret)
    assert check([attached(build, "notes.txt")], content)[1] == [
        attachment_problem(
            0,
            "'notes.txt' resolves outside content/attachments/ (links out are not allowed)",
        )
    ]


def test_symlinked_attachment_pointing_elsewhere_in_content_is_refused(
    build: Build, content: Path
) -> None:
    (content / "sectors-copy.yml").write_text("x")
    (content / "attachments" / "list.yml").symlink_to(content / "sectors-copy.yml")
    assert check([attached(build, "list.yml")], content)[1] == [
        attachment_problem(
            0, "'list.yml' resolves outside content/attachments/ (links out are not allowed)"
        )
    ]


def test_symlinked_attachment_inside_attachments_is_fine(build: Build, content: Path) -> None:
    (content / "attachments" / "2017").mkdir()
    (content / "attachments" / "2017" / "bulletin.pdf").write_bytes(b"12345")
    (content / "attachments" / "latest.pdf").symlink_to(Path("2017") / "bulletin.pdf")
    alerts, problems = check([attached(build, "latest.pdf")], content)
    assert problems == []
    assert alerts[0].attachments[0].size == 5


def test_attachments_folder_linked_outside_content_is_refused(
    build: Build, content: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.pdf").write_bytes(b"x")
    (content / "attachments").rmdir()
    (content / "attachments").symlink_to(elsewhere, target_is_directory=True)
    assert check([attached(build, "a.pdf")], content)[1] == [
        attachment_problem(
            0, "'a.pdf' resolves outside content/attachments/ (links out are not allowed)"
        )
    ]


def test_looping_attachment_link_is_reported_not_raised(build: Build, content: Path) -> None:
    (content / "attachments" / "a.pdf").symlink_to("b.pdf")
    (content / "attachments" / "b.pdf").symlink_to("a.pdf")
    assert check([attached(build, "a.pdf")], content)[1] == [
        attachment_problem(0, "'a.pdf' does not exist in content/attachments/")
    ]


def test_resolve_attachment_directly(content: Path) -> None:
    (content / "attachments" / "x.csv").write_text("a,b\n")
    assert resolve_attachment(content, Attachment("x.csv", 0, "text/csv")) == Attachment(
        "x.csv", 4, "text/csv"
    )


# AlertCollection


def alert(
    alert_id: str,
    issued: datetime,
    level: Level = Level.RED,
    sectors: tuple[str, ...] = ("retail",),
    **fields: object,
) -> Alert:
    return Alert(
        id=alert_id,
        path=f"alerts/{alert_id[:4]}/{alert_id}.md",
        title=alert_id,
        level=level,
        issued=issued,
        sectors=sectors,
        sources=("met",),
        summary="",
        body_html="<p>x</p>",
        **fields,  # type: ignore[arg-type]
    )


T0 = datetime(2017, 4, 20, 9, 0, tzinfo=BST)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_alerts_are_newest_first_with_id_breaking_ties() -> None:
    collection = AlertCollection.of(
        [alert("2017-04-20-b", at(0)), alert("2017-04-20-c", at(1)), alert("2017-04-20-a", at(0))]
    )
    assert [a.id for a in collection.alerts] == ["2017-04-20-c", "2017-04-20-a", "2017-04-20-b"]
    assert set(collection.by_id) == {"2017-04-20-a", "2017-04-20-b", "2017-04-20-c"}


def test_same_instant_in_different_offsets_ties_on_id() -> None:
    utc = at(0).astimezone(UTC)
    collection = AlertCollection.of([alert("2017-04-20-z", at(0)), alert("2017-04-20-y", utc)])
    assert [a.id for a in collection.alerts] == ["2017-04-20-y", "2017-04-20-z"]


THREAD = [
    alert("2017-04-20-root", at(0)),
    alert("2017-04-20-second", at(2), updates="2017-04-20-root"),
    alert("2017-04-20-first", at(1), updates="2017-04-20-root"),
    alert("2017-04-20-grandchild", at(3), updates="2017-04-20-first"),
    alert("2017-04-20-alone", at(1.5)),
]


def test_children_are_oldest_first() -> None:
    collection = AlertCollection.of(THREAD)
    assert dict(collection.children) == {
        "2017-04-20-root": ("2017-04-20-first", "2017-04-20-second"),
        "2017-04-20-first": ("2017-04-20-grandchild",),
    }


@pytest.mark.parametrize(
    "member", ["2017-04-20-root", "2017-04-20-first", "2017-04-20-second", "2017-04-20-grandchild"]
)
def test_thread_is_the_whole_incident_oldest_first_from_any_member(member: str) -> None:
    collection = AlertCollection.of(THREAD)
    assert [a.id for a in collection.thread(collection.by_id[member])] == [
        "2017-04-20-root",
        "2017-04-20-first",
        "2017-04-20-second",
        "2017-04-20-grandchild",
    ]


def test_thread_of_a_lone_alert_is_empty() -> None:
    collection = AlertCollection.of(THREAD)
    assert collection.thread(collection.by_id["2017-04-20-alone"]) == ()


def test_thread_whose_root_is_missing_starts_at_the_oldest_known() -> None:
    orphan = alert("2017-04-20-orphan", at(1), updates="2017-04-19-gone")
    reply = alert("2017-04-20-reply", at(2), updates="2017-04-20-orphan")
    collection = AlertCollection.of([orphan, reply])
    assert [a.id for a in collection.thread(reply)] == ["2017-04-20-orphan", "2017-04-20-reply"]


def test_a_cycle_check_collection_would_refuse_does_not_hang_thread() -> None:
    one = alert("2017-04-20-one", at(1), updates="2017-04-20-two")
    two = alert("2017-04-20-two", at(2), updates="2017-04-20-one")
    collection = AlertCollection.of([one, two])
    assert {a.id for a in collection.thread(one)} == {"2017-04-20-one", "2017-04-20-two"}


def test_for_sector_includes_alerts_for_all_sectors() -> None:
    collection = AlertCollection.of(
        [
            alert("2017-04-20-retail", at(0), sectors=("retail",)),
            alert("2017-04-20-everyone", at(1), sectors=("all",)),
            alert("2017-04-20-banks", at(2), sectors=("banking", "night-time")),
        ]
    )
    assert [a.id for a in collection.for_sector("retail")] == [
        "2017-04-20-everyone",
        "2017-04-20-retail",
    ]
    assert [a.id for a in collection.for_sector("night-time")] == [
        "2017-04-20-banks",
        "2017-04-20-everyone",
    ]


def test_for_level() -> None:
    collection = AlertCollection.of(
        [alert("2017-04-20-a", at(0), Level.AMBER), alert("2017-04-20-b", at(1), Level.RED)]
    )
    assert [a.id for a in collection.for_level(Level.AMBER)] == ["2017-04-20-a"]
    assert collection.for_level(Level.GREEN) == []


def test_sector_scopes_expand_all() -> None:
    everyone = alert("2017-04-20-a", at(0), sectors=("all",))
    some = alert("2017-04-20-b", at(0), sectors=("night-time", "retail"))
    assert sector_scopes(everyone, ["retail", "banking"]) == ("retail", "banking")
    assert sector_scopes(some, ["retail", "banking"]) == ("night-time", "retail")


# current()


def test_current_puts_red_before_amber_and_newest_first_within_each() -> None:
    collection = AlertCollection.of(
        [
            alert("2017-04-20-amber-new", at(5), Level.AMBER),
            alert("2017-04-20-red-old", at(1), Level.RED),
            alert("2017-04-20-amber-old", at(2), Level.AMBER),
            alert("2017-04-20-red-new", at(4), Level.RED),
            alert("2017-04-20-green", at(6), Level.GREEN),
        ]
    )
    assert [a.id for a in collection.current(at(7), window_days=7)] == [
        "2017-04-20-red-new",
        "2017-04-20-red-old",
        "2017-04-20-amber-new",
        "2017-04-20-amber-old",
    ]


@pytest.mark.parametrize(
    ("age", "current"),
    [
        (timedelta(days=7) - timedelta(seconds=1), True),
        (timedelta(days=7), False),
        (timedelta(0), True),
        (-FIVE_MINUTES, True),
    ],
    ids=["just-inside", "exactly-the-window", "brand-new", "issued-a-moment-ahead"],
)
def test_current_window_boundary(age: timedelta, current: bool) -> None:
    collection = AlertCollection.of([alert("2017-04-20-a", at(0))])
    assert bool(collection.current(at(0) + age, window_days=7)) is current


@pytest.mark.parametrize(
    ("expires", "current"),
    [(at(2), True), (at(1), False), (at(0.5), False)],
    ids=["later", "expires-now", "expired"],
)
def test_current_excludes_expired_alerts(expires: datetime, current: bool) -> None:
    collection = AlertCollection.of([alert("2017-04-20-a", at(0), expires=expires)])
    assert bool(collection.current(at(1), window_days=7)) is current


def test_current_excludes_withdrawn_and_green() -> None:
    from alerts.model import Correction, Status

    withdrawn = alert(
        "2017-04-20-withdrawn",
        at(0),
        status=Status.WITHDRAWN,
        corrections=(Correction(at(0.5), "False alarm."),),
    )
    green = alert("2017-04-20-green", at(0), Level.GREEN)
    assert AlertCollection.of([withdrawn, green]).current(at(1), window_days=7) == []


# The whole folder, through the loader


def write(content: Path, rel: str, raw: bytes) -> None:
    path = content / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)


def test_load_content_reports_problems_of_every_kind_at_once(
    content: Path, make_alert, tmp_path: Path
) -> None:
    write(content, "alerts/2017/2017-04-20-good.md", make_alert())
    write(content, "alerts/2017/2017-04-20-bad.md", make_alert(level="RED"))
    write(
        content,
        "alerts/2017/2017-04-20-orphan.md",
        make_alert(updates="2017-04-19-missing"),
    )
    write(content, "alerts/2017/notes.txt", b"stray")
    os.symlink(tmp_path, content / "outside")
    with pytest.raises(ContentError) as caught:
        load_content(content, NOW, FIVE_MINUTES, AlertCache(None, "test"))
    assert [(p.path, p.field) for p in caught.value.problems] == [
        ("alerts/2017/2017-04-20-bad.md", "level"),
        ("alerts/2017/2017-04-20-orphan.md", "updates"),
        ("alerts/2017/notes.txt", "file"),
        ("outside", "file"),
    ]


def test_load_content_builds_the_collection(content: Path, make_alert) -> None:
    write(content, "alerts/2017/2017-04-20-first.md", make_alert())
    write(
        content,
        "alerts/2017/2017-04-20-second.md",
        make_alert(issued='"2017-04-20T22:00:00+01:00"', updates="2017-04-20-first"),
    )
    loaded = load_content(content, NOW, FIVE_MINUTES, AlertCache(None, "test"))
    assert [a.id for a in loaded.collection.alerts] == ["2017-04-20-second", "2017-04-20-first"]
    assert loaded.collection.children == {"2017-04-20-first": ("2017-04-20-second",)}
    assert list(loaded.registry.sectors) == ["retail", "banking", "night-time"]
