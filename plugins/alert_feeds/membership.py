"""Every feed's entries from one newest-first walk over the slim records, stopped when it can.

Each feed keeps what `retention.select_entries` keeps from its members. Testing every alert
against every scope would cost alerts x scopes on every build, and the archive only grows;
instead each alert is routed to the scopes it belongs to, and the walk stops once it is past
the cut-off and every scope has its minimum. Past that point only a recent correction can keep
an alert, and C loops over the records' latest moments find those.

The walk reads slim records (alerts/index.py), not Alerts: a record's level and the sector
listings it is in say which scopes hold it, so an archive of thousands is walked without
building (or reading from the cache) a single alert just to learn where it goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, compress, islice, repeat
from operator import itemgetter, le, not_, or_

from alerts.index import ISSUED, LATEST, LEVEL, SCOPES, Slim, micros, slim_of
from alerts.model import Alert, Level

from .retention import retention_cutoff
from .scopes import FeedScope

_SECTOR = "sectors/"
_LEVEL = "levels/"
_NONE: tuple[int, ...] = ()
# The default of every lookup by listing: most listings route to no scope ("levels/...").
_NO_SCOPES = repeat(_NONE)


@dataclass(frozen=True)
class _Routes:
    """Which of some scopes, by index, hold an alert, by its level and then its listings: the
    scopes of its level that take every sector, plus those of each sector it is listed in."""

    anywhere: dict[str, tuple[int, ...]]  # by level value
    by_listing: dict[str, dict[str, tuple[int, ...]]]  # by level value, by "sectors/<slug>"
    # By level value: the listings a record of the level must name to belong to a scope.
    listings: dict[str, frozenset[str]]

    @classmethod
    def of(cls, scopes: Sequence[FeedScope], indexes: Iterable[int]) -> _Routes:
        anywhere: dict[str, list[int]] = {level.value: [] for level in Level}
        by_listing: dict[str, dict[str, list[int]]] = {level.value: {} for level in Level}
        named: dict[str, set[str]] = {level.value: set() for level in Level}
        for index in indexes:
            scope = scopes[index]
            for level in Level if scope.levels is None else scope.levels:
                if scope.sector is None:
                    anywhere[level.value].append(index)
                    named[level.value].add(f"{_LEVEL}{level.value}")
                else:
                    listing = f"{_SECTOR}{scope.sector}"
                    by_listing[level.value].setdefault(listing, []).append(index)
                    named[level.value].add(listing)
        return cls(
            {level: tuple(found) for level, found in anywhere.items()},
            {
                level: {listing: tuple(found) for listing, found in listings.items()}
                for level, listings in by_listing.items()
            },
            {level: frozenset(listings) for level, listings in named.items()},
        )


def _candidates(
    records: Sequence[Slim], start: int, listings: dict[str, frozenset[str]], cutoff: int
) -> Iterator[int]:
    """The positions from `start` of the records that name one of the `listings` of their
    level or were corrected on or after `cutoff`, found by C loops as they are asked for."""
    levels = map(listings.__getitem__, map(itemgetter(LEVEL), islice(records, start, None)))
    named = map(frozenset.isdisjoint, levels, map(itemgetter(SCOPES), islice(records, start, None)))
    corrected = map(le, repeat(cutoff), map(itemgetter(LATEST), islice(records, start, None)))
    return compress(range(start, len(records)), map(or_, map(not_, named), corrected))


def records_of(alerts: Iterable[Alert], sector_slugs: Iterable[str]) -> list[Slim]:
    """Slim records of alerts that have none (not read through the cache), each listing
    named once: validation refuses a sector listed twice, but these were not validated."""
    slugs = tuple(sector_slugs)
    return [
        (*record[:SCOPES], tuple(dict.fromkeys(record[SCOPES])), *record[SCOPES + 1 :])
        for record in (slim_of(alert, slugs) for alert in alerts)
    ]


def feed_positions(
    records: Sequence[Slim],
    scopes: Sequence[FeedScope],
    now: datetime,
    min_items: int,
    retention_days: int,
) -> list[list[int]]:
    """For each scope, in order: the positions in `records` of what `select_entries` keeps
    of the alerts it includes, newest first.

    The records must be newest first, as `AlertCollection.slims` is: the walk takes the first
    one issued before the cut-off to mean that all the rest are. A record's SCOPES must name
    each listing once, and every sector for an alert to all sectors, with the same sectors
    as `scopes` (index.scopes_of, for a valid alert): the walk routes by SCOPES alone.
    """
    cutoff = micros(retention_cutoff(now, min_items, retention_days))
    every = _Routes.of(scopes, range(len(scopes)))
    entries: list[list[int]] = [[] for _ in scopes]
    position, total = 0, len(records)

    # The walks below run once per alert for thousands of them, so they make no Python
    # call per alert: a record's scopes are chained from lookups by C iterators.

    # Issued since the cut-off: kept by every scope that includes it.
    while position < total:
        record = records[position]
        if record[ISSUED] < cutoff:
            break
        level = record[LEVEL]
        get = every.by_listing[level].get
        for index in chain(every.anywhere[level], *map(get, record[SCOPES], _NO_SCOPES)):
            entries[index].append(position)
        position += 1

    # Older: kept while a scope is still short of its minimum (until then every member was
    # kept, so a scope's count of entries is its count of members), or if corrected since.
    # Corrections are later than the issue and in order, so LATEST is `Alert.updated`.
    short = {index for index, kept in enumerate(entries) if len(kept) < min_items}
    left = len(short)
    while left and position < total:
        # Only the short scopes are routed to, and only records that could belong to one of
        # them (or were corrected since) are looked at, picked by C loops: once most scopes
        # have their minimum, most records are neither. A few sparse scopes can make this
        # walk reach the oldest alert, so as they fill the routes are made again (at most
        # a few times: each time, for half as many scopes).
        routes, routed = _Routes.of(scopes, sorted(short)), left
        for place in _candidates(records, position, routes.listings, cutoff):
            record = records[place]
            corrected = record[LATEST] >= cutoff
            table = every if corrected else routes
            level = record[LEVEL]
            get = table.by_listing[level].get
            for index in chain(table.anywhere[level], *map(get, record[SCOPES], _NO_SCOPES)):
                kept = entries[index]
                if index in short:
                    kept.append(place)
                    if len(kept) >= min_items:
                        short.discard(index)
                        left -= 1
                elif corrected:
                    kept.append(place)
            if left <= routed // 2:
                break
        else:
            position = total  # no record left that could belong to a short scope
            break
        position = place + 1

    # Every scope has its minimum: the rest is kept only if corrected since the cut-off.
    # Most of the archive is here, so it is read by C loops only.
    latest = map(itemgetter(LATEST), islice(records, position, None))
    for place in compress(range(position, total), map(le, repeat(cutoff), latest)):
        record = records[place]
        level = record[LEVEL]
        get = every.by_listing[level].get
        for index in chain(every.anywhere[level], *map(get, record[SCOPES], _NO_SCOPES)):
            entries[index].append(place)
    return entries


def feed_entries(
    alerts_newest_first: Sequence[Alert],
    scopes: Sequence[FeedScope],
    now: datetime,
    min_items: int,
    retention_days: int,
) -> list[list[Alert]]:
    """`feed_positions` for alerts that have no slim records."""
    sectors = dict.fromkeys(scope.sector for scope in scopes if scope.sector is not None)
    records = records_of(alerts_newest_first, sectors)
    return [
        [alerts_newest_first[place] for place in places]
        for places in feed_positions(records, scopes, now, min_items, retention_days)
    ]
