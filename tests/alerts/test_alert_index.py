"""index.py: finding a listing's members by bisection agrees with looking at every alert."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from alerts.index import (
    GROUPS,
    ISSUED,
    KEY,
    Slim,
    first_issued_after,
    issued_between,
    members_of,
    micros,
    period_of,
    sort_key,
)
from alerts.pages import _newest


def archive(count: int, seed: int) -> list[Slim]:
    """Slim records (only the fields these functions read) of alerts issued around New
    Years and month ends, in offsets from -23:59 to +23:59, newest first."""
    rng = random.Random(seed)
    slims: list[Slim] = []
    for number in range(count):
        base = datetime(rng.choice((2016, 2017, 2018)), rng.choice((1, 2, 12)), 1, tzinfo=UTC)
        moment = base + timedelta(minutes=rng.randint(-3 * 24 * 60, 3 * 24 * 60))
        local = moment.astimezone(timezone(timedelta(minutes=rng.randint(-1439, 1439))))
        alert_id = f"a{number}"
        groups = (
            f"sectors/retail/{local.year}",
            f"levels/red/{local.year}",
            f"archive/{local.year:04d}/{local.month:02d}",
        )
        record: list[object] = [None] * (GROUPS + 1)
        record[KEY], record[ISSUED], record[GROUPS] = (
            sort_key(micros(moment), alert_id),
            micros(moment),
            groups,
        )
        slims.append(tuple(record))
    return sorted(slims, key=lambda slim: slim[KEY])


@pytest.mark.parametrize("seed", range(5))
def test_members_found_by_period_are_every_member_in_order(seed: int) -> None:
    slims = archive(600, seed)
    every = {group for slim in slims for group in slim[GROUPS]}
    wanted = set(random.Random(seed).sample(sorted(every), 4)) | {"archive/2019/01"}
    expected = {
        group: [p for p, slim in enumerate(slims) if group in slim[GROUPS]] for group in wanted
    }
    assert members_of(slims, wanted) == {g: m for g, m in expected.items() if m}


def test_issued_between_is_the_run_of_those_issued_in_the_interval() -> None:
    slims = archive(300, 7)
    low, high = slims[200][ISSUED], slims[100][ISSUED]  # newest first: 100 is the later
    run = issued_between(slims, low, high)
    assert list(run) == [p for p, slim in enumerate(slims) if low <= slim[ISSUED] < high]
    assert list(issued_between(slims, high, low)) == []


def test_a_period_holds_its_year_or_month_with_a_day_either_side() -> None:
    day = 86_400_000_000
    assert period_of("sectors/retail/2016") == (
        micros(datetime(2016, 1, 1, tzinfo=UTC)) - day,
        micros(datetime(2017, 1, 1, tzinfo=UTC)) + day,
    )
    low, high = period_of("archive/2016/12")
    assert low == micros(datetime(2016, 12, 1, tzinfo=UTC)) - day
    assert high >= micros(datetime(2017, 1, 1, tzinfo=UTC)) + day
    assert high <= micros(datetime(2017, 1, 5, tzinfo=UTC)) + day


@pytest.mark.parametrize(("seed", "n"), [(seed, n) for seed in range(4) for n in (1, 5, 40)])
def test_a_scopes_newest_come_from_its_newest_years_and_the_year_before(seed: int, n: int) -> None:
    slims = archive(300, seed)
    counts: dict[int, int] = {}
    for slim in slims:
        year = int(slim[GROUPS][0].rpartition("/")[2])
        counts[year] = counts.get(year, 0) + 1
    years = sorted(counts.items(), reverse=True)
    assert _newest(slims, "sectors/retail", n, {}, years) == list(range(min(n, len(slims))))


def test_an_alert_of_the_year_before_in_its_authors_offset_can_be_among_the_newest() -> None:
    def slim(alert_id: str, utc: datetime, offset_hours: int) -> Slim:
        local = utc.astimezone(timezone(timedelta(hours=offset_hours)))
        record: list[object] = [None] * (GROUPS + 1)
        record[KEY], record[ISSUED] = sort_key(micros(utc), alert_id), micros(utc)
        record[GROUPS] = (f"sectors/retail/{local.year}",)
        return tuple(record)

    new_year = datetime(2017, 1, 1, tzinfo=UTC)
    slims = sorted(
        [
            *(slim(f"new{i}", new_year + timedelta(minutes=10 + i), 0) for i in range(3)),
            slim("late", new_year + timedelta(hours=5), -10),  # 2016-12-31 19:00 locally
            slim("old", new_year - timedelta(days=30), 0),
        ],
        key=lambda s: s[KEY],
    )
    assert slims[0][GROUPS] == ("sectors/retail/2016",)  # the newest, in the year before
    years = [(2017, 3), (2016, 2)]
    assert _newest(slims, "sectors/retail", 3, {}, years) == [0, 1, 2]
    assert _newest(slims, "sectors/retail", 2, {}, years) == [0, 1]


@pytest.mark.parametrize("seed", range(3))
def test_first_issued_after_is_the_least_issue_time_past_the_moment(seed: int) -> None:
    slims = archive(200, seed)
    rng = random.Random(seed)
    for moment in [*(rng.choice(slims)[ISSUED] + d for d in (-1, 0, 1)), 0, 1 << 60]:
        later = [slim[ISSUED] for slim in slims if slim[ISSUED] > moment]
        assert first_issued_after(slims, moment) == (min(later) if later else None)
