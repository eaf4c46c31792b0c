"""Retention: the newest `min_items` alerts plus everything issued or corrected recently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alert_feeds.retention import select_entries
from alerts.model import Correction, newest_first_key

NOW = datetime(2026, 4, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def daily(make_alert):
    """Ten alerts, one a day, newest first: day-0 was issued at NOW."""
    alerts = [make_alert(f"day-{n}", issued=NOW - timedelta(days=n)) for n in range(10)]
    return sorted(alerts, key=newest_first_key)


def ids(alerts):
    return [alert.id for alert in alerts]


def test_exactly_min_items_when_nothing_is_recent(daily):
    kept = select_entries(daily, NOW + timedelta(days=100), min_items=3, retention_days=45)
    assert ids(kept) == ["day-0", "day-1", "day-2"]


def test_fewer_alerts_than_min_items(daily):
    assert select_entries(daily[:2], NOW, min_items=50, retention_days=1) == daily[:2]


def test_min_items_zero_keeps_only_recent(daily):
    assert ids(select_entries(daily, NOW, min_items=0, retention_days=2)) == [
        "day-0",
        "day-1",
        "day-2",
    ]


def test_cut_off_is_inclusive(daily):
    # day-4 was issued exactly four days before NOW: "within the last 4 days" keeps it.
    assert ids(select_entries(daily, NOW, min_items=0, retention_days=4))[-1] == "day-4"
    # A microsecond later it has gone.
    later = NOW + timedelta(microseconds=1)
    assert ids(select_entries(daily, later, min_items=0, retention_days=4))[-1] == "day-3"


def test_cut_off_compares_instants_across_offsets(make_alert):
    # 14:00+01:00 is 13:00Z: the cut-off is an instant, whatever offset the author wrote.
    alert = make_alert(
        "bst", issued=datetime(2026, 3, 30, 14, 0, tzinfo=timezone(timedelta(hours=1)))
    )
    now = datetime(2026, 4, 1, 13, 0, tzinfo=UTC)
    assert select_entries([alert], now, min_items=0, retention_days=2) == [alert]
    assert select_entries([alert], now + timedelta(seconds=1), min_items=0, retention_days=2) == []


def test_union_of_min_items_and_recent(daily):
    kept = select_entries(daily, NOW, min_items=5, retention_days=7)
    assert ids(kept) == [f"day-{n}" for n in range(8)]


def test_old_alert_corrected_recently_is_kept(make_alert, daily):
    old = make_alert(
        "old-corrected",
        issued=NOW - timedelta(days=200),
        corrections=(Correction(NOW - timedelta(days=1), "Fixed the phone number"),),
    )
    members = sorted([*daily, old], key=newest_first_key)
    kept = select_entries(members, NOW, min_items=0, retention_days=3)
    assert ids(kept) == ["day-0", "day-1", "day-2", "day-3", "old-corrected"]


def test_withdrawn_alerts_stay(make_alert):
    from alerts.model import Status

    withdrawn = make_alert("withdrawn", issued=NOW - timedelta(days=1), status=Status.WITHDRAWN)
    assert select_entries([withdrawn], NOW, min_items=0, retention_days=45) == [withdrawn]


def test_naive_now_is_refused(daily):
    with pytest.raises(ValueError, match="aware"):
        select_entries(daily, NOW.replace(tzinfo=None), min_items=1, retention_days=1)


@settings(database=None)  # no example database in the working tree
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=100 * 24), max_size=30),
    min_items=st.integers(min_value=0, max_value=10),
    retention_days=st.integers(min_value=0, max_value=60),
)
def test_property(offsets, min_items, retention_days):
    from alerts.model import Alert, Level

    alerts = sorted(
        (
            Alert(
                id=f"a{n}",
                path=f"alerts/a{n}.md",
                title="t",
                level=Level.GREEN,
                issued=NOW - timedelta(hours=hours),
                sectors=("all",),
                sources=("met",),
                summary="s",
                body_html="<p>b</p>",
            )
            for n, hours in enumerate(offsets)
        ),
        key=newest_first_key,
    )
    kept = select_entries(alerts, NOW, min_items, retention_days)
    cutoff = NOW - timedelta(days=retention_days)
    # Order is kept, the newest min_items are all there, and the rest is exactly the recent.
    assert kept == [a for a in alerts if a in kept]
    assert kept[: min(min_items, len(alerts))] == alerts[:min_items]
    assert set(ids(kept)) == set(ids(alerts[:min_items])) | {
        a.id for a in alerts if a.issued >= cutoff
    }
