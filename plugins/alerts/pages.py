"""What HTML pages the site has, what each is made from, and the context to render it.

Every page is a `PagePlan`: its output path, the inputs that decide its content (`parts`,
turned into a key), and a function building its template context. The writer renders only
pages whose key changed, so one new alert re-renders its own page, the home page, its
month and its sectors' and level's pages, never the whole archive.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .collection import AlertCollection
from .model import Alert, Level, Provenance
from .registry import Registry
from .settings import CascadeSettings


@dataclass(frozen=True)
class PagePlan:
    path: str
    template: str
    parts: tuple[Any, ...]
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


def item_key(alert: Alert, now: datetime, window_days: int) -> tuple[str, str, bool, bool]:
    """What a listing shows of an alert: any change to the file, or to its status badges."""
    return (alert.id, alert.content_hash, alert.expired(now), alert.current(now, window_days))


def month_of(alert: Alert) -> tuple[int, int]:
    """Archive months follow the id's date (the date issued in the author's own offset)."""
    return (alert.issued.year, alert.issued.month)


def plan_pages(
    collection: AlertCollection,
    registry: Registry,
    settings: CascadeSettings,
    now: datetime,
    provenance: Mapping[str, Provenance] | None = None,
) -> Iterator[PagePlan]:
    provenance = provenance or {}
    window = settings.current_window_days
    latest_n = settings.home_latest
    alerts = collection.alerts

    def items(selected: Sequence[Alert]) -> tuple[tuple[str, str, bool, bool], ...]:
        return tuple(item_key(alert, now, window) for alert in selected)

    months = Counter(month_of(alert) for alert in alerts)
    month_links = [MonthLink(y, m, n) for (y, m), n in sorted(months.items(), reverse=True)]

    current = collection.current(now, window)
    latest = list(alerts[:latest_n])
    yield PagePlan(
        "index.html",
        "index.html",
        ("home", items(current), items(latest), tuple(month_links[:12])),
        lambda: {
            "current": current,
            "latest": latest,
            "months": month_links[:12],
            "total": len(alerts),
            "page_scope": "all",
        },
    )

    for alert in alerts:
        yield _alert_page(alert, collection, registry, now, window, provenance)

    by_sector = collection.sector_index(registry.sectors)
    by_level = collection.level_index()
    yield from _listing_pages(
        "sectors",
        [(sector.slug, sector.name, sector.description) for sector in registry.sectors.values()],
        lambda slug: by_sector[slug],
        items,
        latest_n,
    )
    sector_counts = Counter({slug: len(members) for slug, members in by_sector.items()})
    yield PagePlan(
        "sectors/index.html",
        "sectors.html",
        ("sectors", tuple(sorted(sector_counts.items()))),
        lambda: {"counts": sector_counts, "page_scope": "all"},
    )

    yield from _listing_pages(
        "levels",
        [(level.value, f"{level.label} alerts", level.meaning) for level in Level],
        lambda value: by_level[Level(value)],
        items,
        latest_n,
    )
    level_counts = Counter({level: len(members) for level, members in by_level.items()})
    yield PagePlan(
        "levels/index.html",
        "levels.html",
        ("levels", tuple(sorted((lv.value, n) for lv, n in level_counts.items()))),
        lambda: {"counts": level_counts, "page_scope": "all"},
    )

    yield PagePlan("404.html", "404.html", ("not-found",), lambda: {"page_scope": "all"})

    by_month: defaultdict[tuple[int, int], list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_month[month_of(alert)].append(alert)
    yield PagePlan(
        "archive/index.html",
        "archive.html",
        ("archive", tuple(month_links)),
        lambda: {"months": month_links, "page_scope": "all"},
    )
    for index, link in enumerate(month_links):
        newer = month_links[index - 1] if index > 0 else None
        older = month_links[index + 1] if index + 1 < len(month_links) else None
        month_alerts = by_month[(link.year, link.month)]
        yield PagePlan(
            link.path + "index.html",
            "month.html",
            ("month", link, newer, older, items(month_alerts)),
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


def _alert_page(
    alert: Alert,
    collection: AlertCollection,
    registry: Registry,
    now: datetime,
    window: int,
    provenance: Mapping[str, Provenance],
) -> PagePlan:
    thread = collection.thread(alert)
    parent = collection.by_id.get(alert.updates) if alert.updates else None
    later = [collection.by_id[i] for i in collection.children.get(alert.id, ())]
    return PagePlan(
        f"alerts/{alert.id}/index.html",
        "alert.html",
        (
            "alert",
            item_key(alert, now, window),
            tuple((a.id, a.content_hash) for a in thread),
            tuple(a.size for a in alert.attachments),
            provenance.get(alert.id),
        ),
        lambda: {
            "alert": alert,
            "thread": thread,
            "parent": parent,
            "later": later,
            "expired": alert.expired(now),
            "provenance": provenance.get(alert.id),
            "page_scope": f"levels/{alert.level.value}",
        },
    )


def _listing_pages(
    kind: str,
    scopes: list[tuple[str, str, str]],
    members: Callable[[str], list[Alert]],
    items: Callable[[Sequence[Alert]], tuple[Any, ...]],
    latest_n: int,
) -> Iterator[PagePlan]:
    """A page per scope (newest `latest_n`, then year links) and a page per scope-year."""
    for slug, title, description in scopes:
        selected = members(slug)
        by_year: defaultdict[int, list[Alert]] = defaultdict(list)
        for alert in selected:
            by_year[alert.issued.year].append(alert)
        years = sorted(((year, len(a)) for year, a in by_year.items()), reverse=True)
        latest = selected[:latest_n]
        base = {"kind": kind, "slug": slug, "title": title, "description": description}
        yield PagePlan(
            f"{kind}/{slug}/index.html",
            "listing.html",
            (kind, slug, title, description, items(latest), tuple(years), len(selected)),
            _listing_context(base, latest, years, None, len(selected)),
        )
        for year, year_alerts in by_year.items():
            yield PagePlan(
                f"{kind}/{slug}/{year}/index.html",
                "listing.html",
                (kind, slug, title, description, year, items(year_alerts), tuple(years)),
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
