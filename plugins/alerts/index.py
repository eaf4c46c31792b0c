"""The few facts about an alert that a build needs for every alert, every time.

Sorting the archive, checking threads, counting what each listing holds and finding which
listings an edit touches need a handful of facts per alert, not the alert. The content
cache keeps them beside each file's entry as a tuple of plain values (a "slim" record) made
once, when the file is parsed, so a build reads them without building 10,000 Alerts.

The listings an alert appears in are named like the pages that show them:
`sectors/<slug>/<year>`, `levels/<level>/<year>` and `archive/<yyyy>/<mm>`, by the date
issued in the author's own offset (as the pages have always grouped them).
"""

from __future__ import annotations

import sys
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from .model import ALL_SECTORS, Alert, Level, Status

# Fields of a slim record, by position.
KEY = 0  # sorts newest first (then by id), as newest_first_key does
ID = 1
LEVEL = 2  # Level value
STATUS = 3  # Status value
ISSUED = 4  # microseconds since the epoch (UTC)
EXPIRES = 5  # the same, or None
UPDATES = 6  # the id this alert updates, or None
GROUPS = 7  # the listings it appears in (see above)
ATTACHMENTS = 8  # attachment names
LATEST = 9  # the latest moment it names (issued, or its newest correction)
SHA = 10  # the file's SHA-256 (Alert.content_hash)
SCOPES = 11  # the sector and level listings it is in: GROUPS without the years (nor month)

Slim = tuple[Any, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Far enough in the future that every key has the same number of digits.
_KEY_BASE = 10**18
_intern = sys.intern
GREEN = Level.GREEN.value
WITHDRAWN = Status.WITHDRAWN.value
# Listings go by the date in the author's own offset, less than a day from UTC's.
_DAY_US = 86_400_000_000
_key = itemgetter(KEY)


def micros(moment: datetime) -> int:
    """Exact microseconds since the epoch (floats round)."""
    return (moment - _EPOCH) // _MICROSECOND


def sort_key(issued_us: int, alert_id: str) -> str:
    """Newest first, ties by id: the order of newest_first_key, as one string."""
    return f"{_KEY_BASE - issued_us:019d} {alert_id}"


def scopes_of(alert: Alert, sector_slugs: Iterable[str]) -> tuple[str, ...]:
    """The sector and level listings `alert` is in (every sector's, for an alert to all
    sectors)."""
    slugs = tuple(sector_slugs) if alert.sectors == (ALL_SECTORS,) else alert.sectors
    return tuple(
        _intern(scope)
        for scope in (*(f"sectors/{slug}" for slug in slugs), f"levels/{alert.level.value}")
    )


def groups_of(alert: Alert, sector_slugs: Iterable[str]) -> tuple[str, ...]:
    """The listings `alert` appears in: each of its scopes' year (in the order of
    scopes_of), then its month."""
    year, month = alert.issued.year, alert.issued.month
    return tuple(
        _intern(group)
        for group in (
            *(f"{scope}/{year}" for scope in scopes_of(alert, sector_slugs)),
            f"archive/{year:04d}/{month:02d}",
        )
    )


def slim_of(alert: Alert, sector_slugs: Iterable[str]) -> Slim:
    sector_slugs = tuple(sector_slugs)
    issued = micros(alert.issued)
    latest = max([issued, *(micros(c.at) for c in alert.corrections)])
    return (
        sort_key(issued, alert.id),
        alert.id,
        _intern(alert.level.value),
        _intern(alert.status.value),
        issued,
        micros(alert.expires) if alert.expires is not None else None,
        alert.updates,
        groups_of(alert, sector_slugs),
        tuple(a.name for a in alert.attachments),
        latest,
        alert.content_hash,
        scopes_of(alert, sector_slugs),
    )


def flags(slim: Slim, now_us: int, window_start_us: int) -> tuple[bool, bool]:
    """(expired, current) at `now`, as Alert.expired and Alert.current say."""
    expires = slim[EXPIRES]
    expired = expires is not None and expires <= now_us
    current = (
        slim[LEVEL] != GREEN
        and slim[STATUS] != WITHDRAWN
        and not expired
        and slim[ISSUED] > window_start_us
    )
    return expired, current


def period_of(group: str) -> tuple[int, int]:
    """Microseconds since the epoch (UTC) between which every member of the listing
    `group` (`.../<year>` or `archive/<yyyy>/<mm>`) was issued, [low, high), with a day to
    spare either side for the authors' offsets."""
    if group.startswith("archive/"):
        year, month = int(group[8:12]), int(group[13:15])
        start = datetime(year, month, 1, tzinfo=UTC)
        # The first of the next month, or later: the margin covers the difference.
        end = datetime(year, month, 28, tzinfo=UTC) + timedelta(days=4)
        end = end.replace(day=1)
    else:
        year = int(group.rpartition("/")[2])
        start = datetime(year, 1, 1, tzinfo=UTC)
        end = datetime(year, 12, 31, tzinfo=UTC) + timedelta(days=1)
    return micros(start) - _DAY_US, micros(end) + _DAY_US


def issued_between(slims: Sequence[Slim], low_us: int, high_us: int) -> range:
    """Positions of the slim records (newest first, as sorted by their keys) of the alerts
    issued at or after `low_us` and before `high_us`: one run, found by bisection."""
    # A key's number is _KEY_BASE - issued: issued < high means number >= base - high + 1,
    # and any key starting with that number sorts after the number alone.
    first = bisect_left(slims, f"{_KEY_BASE - high_us + 1:019d}", key=_key)
    last = bisect_left(slims, f"{_KEY_BASE - low_us + 1:019d}", lo=first, key=_key)
    return range(first, last)


def members_of(slims: Sequence[Slim], groups: Iterable[str]) -> dict[str, list[int]]:
    """The positions of the members of each of `groups` (listings of years and months),
    newest first: only the alerts issued within their periods are looked at."""
    wanted = set(groups)
    found: dict[str, list[int]] = {group: [] for group in wanted}
    positions: set[int] = set()
    positions.update(*(issued_between(slims, *period_of(group)) for group in wanted))
    for position in sorted(positions):
        for group in slims[position][GROUPS]:
            if group in wanted:
                found[group].append(position)
    return {group: members for group, members in found.items() if members}


def first_issued_after(slims: Sequence[Slim], moment_us: int) -> int | None:
    """The earliest issue time later than `moment_us` among the slim records (newest first,
    as sorted by their keys), or None: by bisection, not a pass over the archive."""
    run = issued_between(slims, moment_us + 1, _KEY_BASE - 1)
    return slims[run.stop - 1][ISSUED] if run else None
