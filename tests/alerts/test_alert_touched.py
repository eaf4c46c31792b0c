"""touched.py: the alerts whose badges a new clock turned, found with C loops, are those a
look at every alert finds."""

from __future__ import annotations

import random

import pytest

from alerts.index import EXPIRES, ISSUED, KEY, SCOPES, Slim, sort_key
from alerts.touched import _flipped

HOUR = 3_600_000_000


def archive(count: int, seed: int) -> list[Slim]:
    rng = random.Random(seed)
    slims = []
    for number in range(count):
        issued = rng.randint(0, 400) * HOUR
        expires = issued + rng.randint(1, 100) * HOUR if rng.random() < 0.5 else None
        record: list[object] = [None] * (SCOPES + 1)
        record[KEY] = sort_key(issued, f"a{number}")
        record[ISSUED], record[EXPIRES] = issued, expires
        slims.append(tuple(record))
    return sorted(slims, key=lambda slim: slim[KEY])


def looked_at_one_by_one(slims: list[Slim], before: int, now: int, window: int) -> list[int]:
    low, high = min(before, now), max(before, now)
    return [
        position
        for position, slim in enumerate(slims)
        if (slim[EXPIRES] is not None and low < slim[EXPIRES] <= high)
        or low < slim[ISSUED] + window <= high
    ]


@pytest.mark.parametrize("seed", range(6))
def test_flipped_are_those_whose_expiry_or_window_end_lies_between_the_clocks(seed: int) -> None:
    slims = archive(400, seed)
    rng = random.Random(seed)
    before, now = rng.randint(0, 500) * HOUR, rng.randint(0, 500) * HOUR + rng.choice((0, 1))
    window = 7 * 24 * HOUR
    assert _flipped(slims, before, now, window) == looked_at_one_by_one(slims, before, now, window)
    assert _flipped(slims, now, now, window) == []
