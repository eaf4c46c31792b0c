"""Which pages a build's changes may touch, given what the published site was built from.

The build that published the site left its name and clock in the manifest; when the
content cache was saved by that same build, the cache's changes since are the site's
(`Basis`). From them, and from the clock, this says which listings, months and alert pages
may read differently now; every other page is as published. Only slim records (index.py)
are read: no alert is built to find out.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial
from itertools import compress, repeat
from operator import and_, is_not, itemgetter, le, lt
from typing import NamedTuple

from .collection import AlertCollection
from .index import ATTACHMENTS, EXPIRES, GROUPS, ID, SCOPES, UPDATES, Slim, issued_between


class Basis(NamedTuple):
    """What the last build that published the site saw: the slim records of the files
    changed since (before, after; None where there was or is no alert), its clock in
    microseconds and the `sizes_key` of the attachments it found ("" if unknown)."""

    changes: Mapping[str, tuple[Slim | None, Slim | None]]
    now_us: int
    sizes: str = ""


def sizes_key(sizes: Mapping[str, int | str]) -> str:
    """Names the size of every attachment (or why it cannot be used), as one word."""
    return hashlib.sha256(repr(sorted(sizes.items())).encode()).hexdigest()


class Touched(NamedTuple):
    scopes: set[str]  # sectors and levels (every page of each), as "sectors/<slug>"
    months: set[str]  # as "archive/yyyy/mm"
    listings: set[str]  # scope-years and months whose lists of alerts may differ
    flipped: list[int]  # positions of alerts whose badges the clock turned


def touched(
    basis: Basis,
    slims: Sequence[Slim],
    month_counts: Mapping[str, int],
    now_us: int,
    window_us: int,
) -> Touched:
    """The listings whose pages may differ from what the basis published: those of every
    changed alert as it was and as it is and of every alert whose badges the clock turned
    since, and the months beside one that appeared or went (their pages link to it)."""
    flipped = _flipped(slims, basis.now_us, now_us, window_us)
    scopes: set[str] = set()
    months: set[str] = set()
    listings: set[str] = set()
    before = Counter(month_counts)
    for old, new in basis.changes.values():
        for slim in (old, new):
            if slim is not None:
                scopes.update(slim[SCOPES])
                months.add(slim[GROUPS][-1])
                listings.update(slim[GROUPS])
        if new is not None:
            before[new[GROUPS][-1]] -= 1
        if old is not None:
            before[old[GROUPS][-1]] += 1
    for position in flipped:
        scopes.update(slims[position][SCOPES])
        months.add(slims[position][GROUPS][-1])
        listings.update(slims[position][GROUPS])
    listed = sorted(month_counts, reverse=True)
    for month in before.keys() | month_counts.keys():
        if (before.get(month, 0) > 0) != (month_counts.get(month, 0) > 0):
            at = bisect_left([-_month_number(m) for m in listed], -_month_number(month))
            months.update(listed[max(at - 1, 0) : at + 2])
    return Touched(scopes, months, listings | months, flipped)


def touched_alerts(
    basis: Basis,
    collection: AlertCollection,
    slims: Sequence[Slim],
    flipped: list[int],
    sizes: str = "",
) -> set[int]:
    """Positions of the alerts whose page may differ from what the basis published, the
    signer aside: every changed alert, every member of a thread one of them is or was in,
    every alert whose badges the clock turned, and, unless the attachments' `sizes_key`
    is the basis's, every alert with attachments (their files' sizes are on the page)."""
    found = set(flipped)
    starts: set[str] = set()
    for old, new in basis.changes.values():
        for slim in (old, new):
            if slim is not None:
                starts.add(slim[ID])
                if slim[UPDATES] is not None:
                    starts.add(slim[UPDATES])
    position = collection.position
    for member in collection.thread_members(starts):
        found.add(position(member))
    if not sizes or sizes != basis.sizes:
        found.update(compress(range(len(slims)), map(itemgetter(ATTACHMENTS), slims)))
    return found


def _month_number(group: str) -> int:
    """archive/yyyy/mm as a number that sorts like it."""
    return int(group[8:12]) * 100 + int(group[13:15])


def _flipped(slims: Sequence[Slim], before_us: int, now_us: int, window_us: int) -> list[int]:
    """Positions of alerts whose badges (expired, current) differ between the two clocks,
    in order. C loops only: every build with a new clock looks at the whole archive."""
    if before_us == now_us:
        return []
    low, high = min(before_us, now_us), max(before_us, now_us)
    # A badge turns at the expiry or at the end of the current window, nowhere else: the
    # window's end passed for those issued in (low - window, high - window], a run of the
    # archive (newest first) ...
    found = set(issued_between(slims, low - window_us + 1, high - window_us + 1))
    # ... and the expiry for those expiring in (low, high], anywhere in it.
    expiries = list(map(itemgetter(EXPIRES), slims))
    expiring = list(compress(range(len(slims)), map(partial(is_not, None), expiries)))
    moments = list(map(expiries.__getitem__, expiring))
    found.update(
        compress(
            expiring,
            map(and_, map(lt, repeat(low), moments), map(le, moments, repeat(high))),
        )
    )
    return sorted(found)
