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
    issued_between,
    members_of,
    micros,
    period_of,
    sort_key,
)


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
