"""What HTML pages the site has, what each is made from, and the context to render it.

Every page of ours is a `Page`: its output path, a key that digests every input that decides
its content, and a function building its template context (called only if the page is
rendered). The writer renders only pages whose key changed, so one new alert re-renders its
own page, the home page, its month and its sectors' and level's pages, never the whole
archive. Keys are built from plain strings and numbers only: no repr of a dataclass, a
datetime or a set (slow, and a set's order changes from one process to the next).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from .collection import AlertCollection
from .model import Alert, Level, Provenance
from .registry import Registry
from .settings import CascadeSettings


@dataclass(frozen=True)
class PagePlan:
    """A page another plugin adds (feeds, audit): `parts` are its inputs, hashed by repr."""

    path: str
    template: str
    parts: tuple[Any, ...]
    context: Callable[[], dict[str, Any]]


class Page(NamedTuple):
    """One of our pages, with its key already worked out from its inputs."""

    path: str
    template: str
    key: str
    context: Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class MonthLink:
    year: int
    month: int
    count: int

    @property
    def path(self) -> str:
        return f"archive/{self.year:04d}/{self.month:02d}/"

    @property
    def label(self) -> str:
        return datetime(self.year, self.month, 1).strftime("%B %Y")


class ItemKeys:
    """What a listing shows of each alert, as one short line: any change to the file, or to
    its status badges (expired, current). Worked out once per alert per build, then shared
    by every listing the alert is in and by its list-item fragment."""

    def __init__(self, now: datetime, window_days: int) -> None:
        self.now = now
        self.window_start = now - timedelta(days=window_days)
        self._lines: dict[str, str] = {}

    def line(self, alert: Alert) -> str:
        line = self._lines.get(alert.id)
        if line is None:
            line = item_line(alert, self.now, self.window_start)
            self._lines[alert.id] = line
        return line

    def lines(self, alerts: Sequence[Alert]) -> str:
        get, line = self._lines.get, self.line
        return "\n".join([get(alert.id) or line(alert) for alert in alerts])


def item_line(alert: Alert, now: datetime, window_start: datetime) -> str:
    expired = alert.expires is not None and alert.expires <= now
    # Alert.current, with the window's start worked out once rather than per alert.
    current = (
        alert.level is not Level.GREEN
        and not alert.withdrawn
        and not expired
        and alert.issued > window_start
    )
    return f"{alert.id} {alert.content_hash} {expired:d}{current:d}"


def item_key(alert: Alert, now: datetime, window_days: int) -> str:
    """What a listing shows of an alert (see ItemKeys)."""
    return item_line(alert, now, now - timedelta(days=window_days))


def digest(*parts: str) -> str:
    """A key from strings that cannot run into each other (each is a repr or a line list)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def month_of(alert: Alert) -> tuple[int, int]:
    """Archive months follow the id's date (the date issued in the author's own offset)."""
    return (alert.issued.year, alert.issued.month)


def plan_pages(
    collection: AlertCollection,
    registry: Registry,
    settings: CascadeSettings,
    now: datetime,
    provenance: Mapping[str, Provenance] | None = None,
    items: ItemKeys | None = None,
    unchanged: Callable[[str, str], bool] | None = None,
) -> Iterator[Page]:
    """Every page; with `unchanged(path, key)` (the writer's), no alert page it says is
    unchanged: those are most of an archive's pages, and need no Page or context made."""
    provenance = provenance or {}
    window = settings.current_window_days
    latest_n = settings.home_latest
    alerts = collection.alerts
    keys = items or ItemKeys(now, window)

    months = Counter(month_of(alert) for alert in alerts)
    month_links = [MonthLink(y, m, n) for (y, m), n in sorted(months.items(), reverse=True)]

    def month_repr(link: MonthLink | None) -> str:
        return "-" if link is None else f"{link.year}-{link.month}-{link.count}"

    current = collection.current(now, window)
    latest = list(alerts[:latest_n])
    yield Page(
        "index.html",
        "index.html",
        digest(
            "home",
            keys.lines(current),
            keys.lines(latest),
            " ".join(map(month_repr, month_links[:12])),
            str(len(alerts)),
        ),
        lambda: {
            "current": current,
            "latest": latest,
            "months": month_links[:12],
            "total": len(alerts),
            "page_scope": "all",
        },
    )

    threads = collection.thread_keys().get
    line = keys.line
    for alert in alerts:
        alert_id = alert.id
        path = f"alerts/{alert_id}/index.html"
        signed = provenance.get(alert_id)
        key = digest(
            "alert",
            line(alert),
            threads(alert_id, ""),
            repr([a.size for a in alert.attachments]) if alert.attachments else "",
            "-"
            if signed is None
            else repr((signed.commit, signed.signer_fingerprint, signed.signer_name)),
        )
        if unchanged is None or not unchanged(path, key):
            yield Page(
                path, "alert.html", key, partial(_alert_context, alert, collection, now, signed)
            )

    by_sector = collection.sector_index(registry.sectors)
    by_level = collection.level_index()
    yield from _listing_pages(
        "sectors",
        [(sector.slug, sector.name, sector.description) for sector in registry.sectors.values()],
        lambda slug: by_sector[slug],
        keys,
        latest_n,
    )
    sector_counts = Counter({slug: len(members) for slug, members in by_sector.items()})
    yield Page(
        "sectors/index.html",
        "sectors.html",
        digest("sectors", repr(sorted(sector_counts.items()))),
        lambda: {"counts": sector_counts, "page_scope": "all"},
    )

    yield from _listing_pages(
        "levels",
        [(level.value, f"{level.label} alerts", level.meaning) for level in Level],
        lambda value: by_level[Level(value)],
        keys,
        latest_n,
    )
    level_counts = Counter({level: len(members) for level, members in by_level.items()})
    yield Page(
        "levels/index.html",
        "levels.html",
        digest("levels", repr(sorted((lv.value, n) for lv, n in level_counts.items()))),
        lambda: {"counts": level_counts, "page_scope": "all"},
    )

    yield Page("404.html", "404.html", digest("not-found"), lambda: {"page_scope": "all"})

    by_month: defaultdict[tuple[int, int], list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_month[month_of(alert)].append(alert)
    yield Page(
        "archive/index.html",
        "archive.html",
        digest("archive", " ".join(map(month_repr, month_links))),
        lambda: {"months": month_links, "page_scope": "all"},
    )
    for index, link in enumerate(month_links):
        newer = month_links[index - 1] if index > 0 else None
        older = month_links[index + 1] if index + 1 < len(month_links) else None
        month_alerts = by_month[(link.year, link.month)]
        yield Page(
            link.path + "index.html",
            "month.html",
            digest(
                "month",
                month_repr(link),
                month_repr(newer),
                month_repr(older),
                keys.lines(month_alerts),
            ),
            _month_context(link, month_alerts, newer, older),
        )


def _month_context(
    link: MonthLink, alerts: list[Alert], newer: MonthLink | None, older: MonthLink | None
) -> Callable[[], dict[str, Any]]:
    return lambda: {
        "month": link,
        "alerts": alerts,
        "newer": newer,
        "older": older,
        "page_scope": "all",
    }


def _alert_context(
    alert: Alert, collection: AlertCollection, now: datetime, signed: Provenance | None
) -> dict[str, Any]:
    return {
        "alert": alert,
        "thread": collection.thread(alert),
        "parent": collection.by_id.get(alert.updates) if alert.updates else None,
        "later": [collection.by_id[i] for i in collection.children.get(alert.id, ())],
        "expired": alert.expired(now),
        "provenance": signed,
        "page_scope": f"levels/{alert.level.value}",
    }


def _listing_pages(
    kind: str,
    scopes: list[tuple[str, str, str]],
    members: Callable[[str], list[Alert]],
    keys: ItemKeys,
    latest_n: int,
) -> Iterator[Page]:
    """A page per scope (newest `latest_n`, then year links) and a page per scope-year."""
    for slug, title, description in scopes:
        selected = members(slug)
        by_year: defaultdict[int, list[Alert]] = defaultdict(list)
        for alert in selected:
            by_year[alert.issued.year].append(alert)
        years = sorted(((year, len(a)) for year, a in by_year.items()), reverse=True)
        latest = selected[:latest_n]
        base = {"kind": kind, "slug": slug, "title": title, "description": description}
        head = repr((kind, slug, title, description, years))
        yield Page(
            f"{kind}/{slug}/index.html",
            "listing.html",
            digest(head, str(len(selected)), keys.lines(latest)),
            _listing_context(base, latest, years, None, len(selected)),
        )
        for year, year_alerts in by_year.items():
            yield Page(
                f"{kind}/{slug}/{year}/index.html",
                "listing.html",
                digest(head, str(year), keys.lines(year_alerts)),
                _listing_context(base, year_alerts, years, year, len(year_alerts)),
            )


def _listing_context(
    base: dict[str, Any],
    alerts: list[Alert],
    years: list[tuple[int, int]],
    year: int | None,
    total: int,
) -> Callable[[], dict[str, Any]]:
    return lambda: {
        **base,
        "alerts": alerts,
        "years": years,
        "year": year,
        "total": total,
        "page_scope": f"{base['kind']}/{base['slug']}",
    }
