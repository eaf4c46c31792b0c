"""feed_positions: one early-stopping walk over slim records gives every scope exactly what
select_entries keeps of the alerts it includes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from operator import itemgetter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alert_feeds.membership import feed_entries, feed_positions, records_of
from alert_feeds.retention import select_entries
from alert_feeds.scopes import FeedScope, all_scopes
from alerts.index import ID, KEY
from alerts.model import Alert, Correction, Level, Sector, newest_first_key

NOW = datetime(2026, 4, 3, 12, 0, tzinfo=UTC)
SECTORS = [Sector(slug, slug.title(), "") for slug in ("retail", "banks", "night-time")]
SCOPES = all_scopes(SECTORS)


def alert(
    n: int,
    hours: int,
    level: Level = Level.GREEN,
    sectors: tuple[str, ...] = ("retail",),
    corrected_hours: int | None = None,
) -> Alert:
    issued = NOW - timedelta(hours=hours)
    corrections = (
        ()
        if corrected_hours is None
        else (Correction(NOW - timedelta(hours=corrected_hours), "fixed"),)
    )
    return Alert(
        id=f"a{n}",
        path=f"alerts/a{n}.md",
        title="t",
        level=level,
        issued=issued,
        sectors=sectors,
        sources=("met",),
        summary="s",
        body_html="<p>b</p>",
        corrections=corrections,
    )


def expected(
    alerts: list[Alert], scopes: list[FeedScope], min_items: int, days: int
) -> list[list[Alert]]:
    """What each feed carried before: every scope tested against every alert."""
    return [
        select_entries([a for a in alerts if scope.includes(a)], NOW, min_items, days)
        for scope in scopes
    ]


def ids(per_scope: list[list[Alert]]) -> list[list[str]]:
    return [[a.id for a in entries] for entries in per_scope]


def test_recent_and_minimum_per_scope() -> None:
    alerts = sorted(
        [
            alert(0, 1, Level.RED, ("retail",)),
            alert(1, 30 * 24, Level.AMBER, ("all",)),
            alert(2, 60 * 24, Level.RED, ("banks", "retail")),
            alert(3, 90 * 24, Level.GREEN, ("night-time",)),
        ],
        key=newest_first_key,
    )
    got = feed_entries(alerts, SCOPES, NOW, min_items=1, retention_days=45)
    assert ids(got) == ids(expected(alerts, SCOPES, 1, 45))
    by_key = dict(zip((s.key for s in SCOPES), ids(got), strict=True))
    assert by_key["all"] == ["a0", "a1"]
    assert by_key["sectors/banks"] == ["a1"]  # the all-sectors alert, recent
    assert by_key["sectors/banks/red"] == ["a2"]  # its minimum, from far back
    assert by_key["sectors/night-time/green"] == ["a3"]


def test_sparse_scope_walks_to_the_oldest_alert() -> None:
    # One red banks alert, at the very end: only it keeps sectors/banks/red from being empty.
    alerts = [alert(n, n * 24) for n in range(200)]
    alerts.append(alert(999, 5000 * 24, Level.RED, ("banks",)))
    got = feed_entries(alerts, SCOPES, NOW, min_items=3, retention_days=10)
    assert ids(got) == ids(expected(alerts, SCOPES, 3, 10))
    assert ids(got)[[s.key for s in SCOPES].index("sectors/banks/red")] == ["a999"]


def test_old_alert_corrected_since_the_cut_off_is_kept_after_the_walk_stops() -> None:
    alerts = [alert(n, n * 24, sectors=("all",)) for n in range(300)]
    alerts[250] = alert(250, 250 * 24, sectors=("all",), corrected_hours=2)
    got = feed_entries(alerts, SCOPES, NOW, min_items=5, retention_days=10)
    assert ids(got) == ids(expected(alerts, SCOPES, 5, 10))
    assert "a250" in ids(got)[0]


def test_a_sector_named_twice_lists_the_alert_once() -> None:
    alerts = [alert(0, 1, Level.RED, ("retail", "retail"))]
    got = feed_entries(alerts, SCOPES, NOW, min_items=5, retention_days=10)
    assert ids(got) == ids(expected(alerts, SCOPES, 5, 10))


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        feed_entries([], SCOPES, NOW.replace(tzinfo=None), min_items=1, retention_days=1)


_ALERT = st.tuples(
    st.integers(min_value=0, max_value=120 * 24),  # issued, hours before NOW
    st.sampled_from(list(Level)),
    st.sampled_from(
        [("all",), ("retail",), ("banks",), ("night-time", "retail"), ("unknown",), ("banks",) * 2]
    ),
    st.one_of(st.none(), st.integers(min_value=-48, max_value=120 * 24)),  # corrected
)


@settings(database=None, max_examples=300)  # no example database in the working tree
@given(
    specs=st.lists(_ALERT, max_size=60),
    min_items=st.integers(min_value=0, max_value=8),
    retention_days=st.integers(min_value=0, max_value=60),
)
def test_same_as_every_scope_against_every_alert(
    specs: list[tuple[int, Level, tuple[str, ...], int | None]],
    min_items: int,
    retention_days: int,
) -> None:
    alerts = sorted(
        (
            alert(n, hours, level, sectors, fix)
            for n, (hours, level, sectors, fix) in enumerate(specs)
        ),
        key=newest_first_key,
    )
    want = ids(expected(alerts, SCOPES, min_items, retention_days))
    assert ids(feed_entries(alerts, SCOPES, NOW, min_items, retention_days)) == want
    # The same from records as a build has them: made with the registry's sectors (an alert
    # to all sectors is listed in each) and ordered by their sort keys.
    records = sorted(records_of(alerts, [s.slug for s in SECTORS]), key=itemgetter(KEY))
    assert [r[ID] for r in records] == [a.id for a in alerts]
    got = feed_positions(records, SCOPES, NOW, min_items, retention_days)
    assert [[records[place][ID] for place in places] for places in got] == want
