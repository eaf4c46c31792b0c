"""Every feed's entries from one newest-first walk over the alerts, stopped as soon as it can.

Each feed keeps what `retention.select_entries` keeps from its members. Testing every alert
against every scope would cost alerts x scopes on every build, and the archive only grows;
instead each alert is routed to the scopes it belongs to, and the walk stops once it is past
the cut-off and every scope has its minimum. Past that point only a recent correction can keep
an alert, and testing for one costs an attribute read per alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from alerts.index import micros
from alerts.model import Alert, Level

from .retention import retention_cutoff
from .scopes import FeedScope

_NONE: tuple[int, ...] = ()


@dataclass(frozen=True)
class _LevelRoutes:
    """The scopes, by index, that an alert of one level belongs to."""

    anywhere: tuple[int, ...]  # the scopes of every sector
    all_sectors: tuple[int, ...]  # those and every sector's: for an alert to every sector
    by_sector: dict[str, tuple[int, ...]]  # each sector's own


@dataclass(frozen=True)
class _Routes:
    """Which scopes, by index, an alert belongs to, from its level and sectors alone."""

    levels: dict[Level, _LevelRoutes]

    @classmethod
    def of(cls, scopes: Sequence[FeedScope], indexes: Iterable[int]) -> _Routes:
        anywhere: dict[Level, list[int]] = {level: [] for level in Level}
        sectored: dict[Level, list[int]] = {level: [] for level in Level}
        by_sector: dict[Level, dict[str, list[int]]] = {level: {} for level in Level}
        for index in indexes:
            scope = scopes[index]
            for level in Level if scope.levels is None else scope.levels:
                if scope.sector is None:
                    anywhere[level].append(index)
                else:
                    sectored[level].append(index)
                    by_sector[level].setdefault(scope.sector, []).append(index)
        return cls(
            {
                level: _LevelRoutes(
                    anywhere=tuple(anywhere[level]),
                    all_sectors=(*anywhere[level], *sectored[level]),
                    by_sector={slug: tuple(found) for slug, found in by_sector[level].items()},
                )
                for level in Level
            }
        )

    def targets(self, alert: Alert) -> Sequence[int]:
        """Every scope whose `includes(alert)` is true, each once."""
        routes = self.levels[alert.level]
        if alert.for_all_sectors:
            return routes.all_sectors
        sectors = alert.sectors
        if len(sectors) == 1:
            return routes.anywhere + routes.by_sector.get(sectors[0], _NONE)
        found = list(routes.anywhere)
        # dict.fromkeys: a sector named twice must not list the alert twice.
        for slug in dict.fromkeys(sectors):
            found.extend(routes.by_sector.get(slug, _NONE))
        return found


def feed_entries(
    alerts_newest_first: Sequence[Alert],
    scopes: Sequence[FeedScope],
    now: datetime,
    min_items: int,
    retention_days: int,
    latest: Sequence[int] | None = None,
) -> list[list[Alert]]:
    """For each scope, in order: `select_entries` of the alerts it includes, newest first.

    The alerts must be in `newest_first_key` order, as `AlertCollection.alerts` is: the walk
    takes the first alert issued before the cut-off to mean that all the rest are.
    `latest`, when given, is each alert's latest moment (its issue or newest correction) in
    microseconds since the epoch, as the collection's slim records hold it: the walk past
    the minimums then asks each old alert nothing but that number, so an archive of
    thousands is not built alert by alert just to learn that none was corrected lately.
    """
    cutoff = retention_cutoff(now, min_items, retention_days)
    alerts = alerts_newest_first
    routes = _Routes.of(scopes, range(len(scopes)))
    entries: list[list[Alert]] = [[] for _ in scopes]
    position, total = 0, len(alerts)

    # Issued since the cut-off: kept by every scope that includes it.
    while position < total and alerts[position].issued >= cutoff:
        alert = alerts[position]
        position += 1
        for index in routes.targets(alert):
            entries[index].append(alert)

    # Older: kept while a scope is still short of its minimum (until then every member was
    # kept, so a scope's count of entries is its count of members), or if corrected since.
    short = {index for index, kept in enumerate(entries) if len(kept) < min_items}
    short_routes, routed = routes, len(scopes)
    while short and position < total:
        alert = alerts[position]
        position += 1
        corrected = _corrected_since(alert, position - 1, cutoff, latest)
        for index in (routes if corrected else short_routes).targets(alert):
            kept = entries[index]
            if index in short:
                kept.append(alert)
                if len(kept) >= min_items:
                    short.discard(index)
            elif corrected:
                kept.append(alert)
        if len(short) <= routed // 2:
            # A few sparse scopes can make this walk reach the oldest alert: route only to
            # them (rebuilt as they fill, so the total cost stays linear in the scopes).
            short_routes, routed = _Routes.of(scopes, sorted(short)), len(short)

    # Every scope has its minimum: the rest is kept only if corrected since the cut-off.
    if latest is not None:
        since = micros(cutoff)
        for place in range(position, total):
            if latest[place] >= since:
                for index in routes.targets(alerts[place]):
                    entries[index].append(alerts[place])
        return entries
    for alert in islice(alerts, position, None):
        if alert.corrections and alert.updated >= cutoff:
            for index in routes.targets(alert):
                entries[index].append(alert)
    return entries


def _corrected_since(
    alert: Alert, position: int, cutoff: datetime, latest: Sequence[int] | None
) -> bool:
    """Whether an alert issued before the cut-off was corrected on or after it.

    Without a correction, `updated` is `issued`, which is before the cut-off here;
    corrections are in time order, so the latest moment is the newest correction."""
    if latest is not None:
        return latest[position] >= micros(cutoff)
    return bool(alert.corrections) and alert.updated >= cutoff
