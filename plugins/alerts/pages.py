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
import heapq
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import chain, filterfalse, islice, repeat
from operator import add, attrgetter, itemgetter
from typing import Any, NamedTuple, Protocol, overload

from .collection import AlertCollection
from .index import (
    ATTACHMENTS,
    EXPIRES,
    GREEN,
    GROUPS,
    ID,
    ISSUED,
    LEVEL,
    SHA,
    STATUS,
    WITHDRAWN,
    Slim,
    flags,
    issued_between,
    members_of,
    micros,
    period_of,
    slim_of,
)
from .model import Alert, Level, Provenance
from .registry import Registry
from .settings import CascadeSettings
from .touched import Basis, sizes_key, touched, touched_alerts


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
        self.now_us = micros(now)
        self.window_start_us = micros(self.window_start)
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

    def slim_line(self, slim: Slim) -> str:
        """`line` of an alert, from its slim record."""
        expired, current = flags(slim, self.now_us, self.window_start_us)
        return f"{slim[ID]} {slim[SHA]} {expired:d}{current:d}"

    def slim_lines(self, slims: Sequence[Slim], only: Iterable[int] | None = None) -> list[str]:
        """`line` of each alert, from slim records (the same text, nothing built); with
        `only`, of the alerts at those positions ("" for the others)."""
        # item_line from slim records, inlined: this runs for every alert on every build.
        now, start = self.now_us, self.window_start_us
        lines = [""] * len(slims)
        for position in range(len(slims)) if only is None else only:
            slim = slims[position]
            expires = slim[EXPIRES]
            expired = expires is not None and expires <= now
            current = (
                not expired
                and slim[ISSUED] > start
                and slim[LEVEL] != GREEN
                and slim[STATUS] != WITHDRAWN
            )
            lines[position] = f"{slim[ID]} {slim[SHA]} {expired:d}{current:d}"
        return lines


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


class Members(Sequence[Alert]):
    """The alerts a listing shows, by position in the collection, with each one's item line
    (`lines`) and a digest of them all (`digest`): the list of a page that is not rendered,
    or whose items are all stored, builds no Alert.

    The positions may be found only when first needed (`find`), for a listing known by its
    length and digest alone: a year's list whose items are as published, on a page that
    must be rendered again for its year counts.
    """

    def __init__(
        self,
        alerts: Sequence[Alert],
        positions: Sequence[int] | None,
        line: Callable[[int], str],
        *,
        find: Callable[[], Sequence[int]] | None = None,
        count: int = 0,
        digest: str | None = None,
    ):
        self._alerts = alerts
        self._positions = positions
        self._line = line
        self._find = find
        self._count = count if positions is None else len(positions)
        self._digest = digest
        self._lines: list[str] | None = None

    @property
    def positions(self) -> Sequence[int]:
        if self._positions is None:
            assert self._find is not None
            self._positions = self._find()
        return self._positions

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = list(map(self._line, self.positions))
        return self._lines

    @property
    def digest(self) -> str:
        """Names the items as a whole (every alert's line, in order)."""
        if self._digest is None:
            self._digest = hashlib.sha256("\n".join(self.lines).encode()).hexdigest()
        return self._digest

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Alert: ...
    @overload
    def __getitem__(self, index: slice) -> list[Alert]: ...
    def __getitem__(self, index: int | slice) -> Alert | list[Alert]:
        if isinstance(index, slice):
            return [self._alerts[p] for p in self.positions[index]]
        return self._alerts[self.positions[index]]


def digest(*parts: str) -> str:
    """A key from strings that cannot run into each other (each is a repr or a line list)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def month_of(alert: Alert) -> tuple[int, int]:
    """Archive months follow the id's date (the date issued in the author's own offset)."""
    return (alert.issued.year, alert.issued.month)


_RANK = {level.value: level.rank for level in Level}
_DAY_US = 86_400_000_000
# A year page's key: two SHA-256 digests in hex (see _listing_pages).
_YEAR_KEY = 128


class Published(Protocol):
    """What the writer (SiteOutput) knows of the published site, for planning."""

    def unchanged(self, rel: str, key: str) -> bool: ...
    def unchanged_endings(self, rels: list[str], endings: list[str]) -> list[int]: ...
    def published_key(self, rel: str) -> str | None: ...
    def carry(self, folder: str) -> None: ...


def plan_pages(
    collection: AlertCollection,
    registry: Registry,
    settings: CascadeSettings,
    now: datetime,
    provenance: Mapping[str, Provenance] | None = None,
    items: ItemKeys | None = None,
    published: Published | None = None,
    basis: Basis | None = None,
    signers: Collection[str] | None = None,
    counts: Mapping[str, int] | None = None,
) -> Iterator[Page]:
    """Every page, or with the `published` site, those that may have changed.

    Keys come from the alerts' slim records (index.py), so planning builds no Alert: a
    listing's members are positions in the collection, turned into Alerts only by a page
    that is rendered and needs them. An alert page the writer says is unchanged makes no
    Page or context (most of an archive's pages are alert pages).

    With the `basis` of the build that published the site too (touched.py), the listings
    of a sector, level or month that nothing in the basis touched are not planned: their
    folder is carried as it is. (In a sector or level it touched, a year's page shows no
    other year's count, so one new alert re-renders its own year's page and the scope's;
    a year's list none of whose alerts changed is known by the digest its published key
    holds.) The page of an alert
    the basis does not name, in no thread it touched, without attachments and whose badges
    the clock left alone, is kept if its signer is as it was: the one input of its page
    that nothing here tracks. With `signers` too, the ids of the alerts whose signer may
    differ from the basis's, only those pages are looked at besides: the rest of alerts/
    is carried (the caller says so to the writer), no key made or entry read for it.
    """
    # (`provenance` may be the audit's, which looks alerts up one by one: not made whole)
    signed = {} if provenance is None else provenance
    planner = _Planner(collection, registry, settings, now, signed, items, published, counts)
    if basis is not None and published is not None:
        planner.narrow(basis, signers)
    return planner.pages()


class _Planner:
    """One build's planning: what every page family shares (see plan_pages)."""

    def __init__(
        self,
        collection: AlertCollection,
        registry: Registry,
        settings: CascadeSettings,
        now: datetime,
        provenance: Mapping[str, Provenance],
        items: ItemKeys | None,
        published: Published | None,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        self.collection = collection
        self.registry = registry
        self.latest_n = settings.home_latest
        self.now = now
        self.provenance = provenance
        self.keys = items or ItemKeys(now, settings.current_window_days)
        self.published = published
        alerts = self.alerts = collection.alerts
        if collection.slims is not None:
            self.slims, self.sizes = collection.slims, collection.sizes
        else:
            self.slims = [slim_of(alert, registry.sectors) for alert in alerts]
            self.sizes = {a.name: a.size for alert in alerts for a in alert.attachments}
        if counts is None:
            counts = group_counts(self.slims)
        self.counts = counts
        self.month_counts = {g: n for g, n in counts.items() if g.startswith("archive/")}
        self.years_of: defaultdict[str, dict[int, int]] = defaultdict(dict)
        for group, n in counts.items():
            if not group.startswith("archive/"):
                scope, _, year = group.rpartition("/")
                self.years_of[scope][int(year)] = n
        # What may have changed (narrow()): None means everything.
        self.scopes: set[str] | None = None
        self.months: set[str] | None = None
        self.listings: set[str] | None = None  # those whose members are gathered
        self.touched_alerts: set[int] | None = None
        self.carried = False  # alerts/ carried: only `touched_alerts` have their pages looked at
        self.groups: dict[str, list[int]] = {}
        self.lines: list[str] = []

    def narrow(self, basis: Basis, signers: Collection[str] | None) -> None:
        keys, slims = self.keys, self.slims
        found = touched(
            basis, slims, self.month_counts, keys.now_us, keys.now_us - keys.window_start_us
        )
        self.scopes, self.months, self.listings = found.scopes, found.months, found.listings
        self.touched_alerts = touched_alerts(
            basis, self.collection, slims, found.flipped, sizes_key(self.sizes)
        )
        if signers is not None:
            by_id, position = self.collection.by_id, self.collection.position
            self.touched_alerts.update(position(i) for i in signers if i in by_id)
            self.carried = True

    def pages(self) -> Iterator[Page]:
        slims, keys = self.slims, self.keys
        self.groups = _members(slims, self.listings)
        self.current = _current(slims, keys)
        self.latest = range(min(self.latest_n, len(slims)))
        if self.touched_alerts is None:
            self.lines = keys.slim_lines(slims)
        else:
            # Only the lines some key or listing needs (others on demand).
            needed = set(self.touched_alerts)
            needed.update(self.current, self.latest, *self.groups.values())
            self.lines = keys.slim_lines(slims, needed)
        self.month_links = [
            MonthLink(int(group[8:12]), int(group[13:15]), count)
            for group, count in sorted(self.month_counts.items(), reverse=True)
        ]
        yield self._home()
        yield from self._alert_pages()
        yield from self._scope_pages()
        yield from self._index_pages()
        yield from self._month_pages()

    # -- what the families share -----------------------------------------------------------

    def line(self, position: int) -> str:
        return self.lines[position] or self.keys.slim_line(self.slims[position])

    def members(self, positions: Sequence[int]) -> Members:
        return Members(self.alerts, positions, self.line)

    def text(self, positions: Sequence[int]) -> str:
        return "\n".join(map(self.line, positions))

    def _carry(self, folder: str) -> None:
        assert self.published is not None
        self.published.carry(folder)

    # -- page families ---------------------------------------------------------------------

    def _home(self) -> Page:
        alerts, current, latest = self.alerts, self.current, self.latest
        months = self.month_links[:12]
        return Page(
            "index.html",
            "index.html",
            digest(
                "home",
                self.text(current),
                self.text(latest),
                " ".join(map(_month_repr, months)),
                str(len(self.slims)),
            ),
            lambda: {
                "current": [alerts[p] for p in current],
                "latest": self.members(latest),
                "months": months,
                "total": len(alerts),
                "page_scope": "all",
            },
        )

    def _alert_pages(self) -> Iterator[Page]:
        slims, provenance, collection = self.slims, self.provenance, self.collection
        published, touched_alerts = self.published, self.touched_alerts
        if touched_alerts is None or published is None:
            planned: Iterable[int] = range(len(slims))
            threads = collection.thread_keys().get
            provenance = _whole(provenance)  # every alert's: made at once
        elif self.carried:
            planned = sorted(touched_alerts)
            threads = collection.thread_keys([slims[p][ID] for p in planned]).get
        else:
            # The rest is kept if its signer is as it was: in bulk, as it is most of the
            # archive (C loops only: no function of ours is called per alert).
            rest = list(filterfalse(touched_alerts.__contains__, range(len(slims))))
            ids = list(map(itemgetter(ID), map(slims.__getitem__, rest)))
            provenance = _whole(provenance)
            missed = published.unchanged_endings(
                list(map(add, map(add, repeat("alerts/"), ids), repeat("/index.html"))),
                list(
                    map(
                        add,
                        repeat("\0"),
                        map("\0".join, map(_SIGNED, map(provenance.get, ids, repeat(_UNSIGNED)))),
                    )
                ),
            )
            planned = sorted(touched_alerts.union(map(rest.__getitem__, missed)))
            threads = collection.thread_keys([slims[p][ID] for p in planned]).get
        for position in planned:
            # The key is the page's inputs as they are (no digest): a page kept on its
            # signer alone (above) is checked against the end of it.
            slim = slims[position]
            alert_id = slim[ID]
            path = f"alerts/{alert_id}/index.html"
            signed = provenance.get(alert_id)
            attached = slim[ATTACHMENTS]
            sized = repr([self.sizes.get(name) for name in attached]) if attached else ""
            key = f"{self.line(position)}\0{threads(alert_id, '')}\0{sized}{_signature(signed)}"
            if published is None or not published.unchanged(path, key):
                context = partial(_alert_context, collection, position, self.now, signed)
                yield Page(path, "alert.html", key, context)

    def _scope_pages(self) -> Iterator[Page]:
        listings: list[tuple[str, str, str, str]] = [
            ("sectors", sector.slug, sector.name, sector.description)
            for sector in self.registry.sectors.values()
        ]
        listings += [("levels", lv.value, f"{lv.label} alerts", lv.meaning) for lv in Level]
        for kind, slug, title, description in listings:
            scope = f"{kind}/{slug}"
            if self.scopes is not None and scope not in self.scopes:
                self._carry(f"{scope}/")
                continue
            years = sorted(self.years_of.get(scope, {}).items(), reverse=True)
            latest = _newest(self.slims, scope, self.latest_n, self.groups, years)
            yield from _listing_pages(
                kind, slug, title, description, years, self.members(latest), self._year, self.text
            )

    def _year(self, group: str, path: str, count: int) -> Members:
        """A year's members: gathered, or (unchanged) known by its published digest."""
        positions = self.groups.get(group)
        if positions is not None:
            return self.members(positions)
        published = self.published.published_key(path) if self.published is not None else None
        if published is not None and len(published) == _YEAR_KEY:
            return Members(
                self.alerts,
                None,
                self.line,
                find=partial(_gather, self.slims, group),
                count=count,
                digest=published[_YEAR_KEY // 2 :],
            )
        return self.members(_gather(self.slims, group))

    def _index_pages(self) -> Iterator[Page]:
        scope_counts = {scope: sum(years.values()) for scope, years in self.years_of.items()}
        sectors = Counter(
            {slug: scope_counts.get(f"sectors/{slug}", 0) for slug in self.registry.sectors}
        )
        yield Page(
            "sectors/index.html",
            "sectors.html",
            digest("sectors", repr(sorted(sectors.items()))),
            lambda: {"counts": sectors, "page_scope": "all"},
        )
        levels = Counter({level: scope_counts.get(f"levels/{level.value}", 0) for level in Level})
        yield Page(
            "levels/index.html",
            "levels.html",
            digest("levels", repr(sorted((lv.value, n) for lv, n in levels.items()))),
            lambda: {"counts": levels, "page_scope": "all"},
        )
        yield Page("404.html", "404.html", digest("not-found"), lambda: {"page_scope": "all"})

    def _month_pages(self) -> Iterator[Page]:
        links = self.month_links
        yield Page(
            "archive/index.html",
            "archive.html",
            digest("archive", " ".join(map(_month_repr, links))),
            lambda: {"months": links, "page_scope": "all"},
        )
        for index, link in enumerate(links):
            group = link.path[:-1]
            if self.months is not None and group not in self.months:
                self._carry(link.path)
                continue
            # Its neighbours by name only: their counts are not on this page.
            newer = links[index - 1] if index > 0 else None
            older = links[index + 1] if index + 1 < len(links) else None
            positions = self.groups[group]
            yield Page(
                link.path + "index.html",
                "month.html",
                digest(
                    "month", _month_repr(link), _name(newer), _name(older), self.text(positions)
                ),
                _month_context(link, self.members(positions), newer, older),
            )


def group_counts(slims: Sequence[Slim]) -> dict[str, int]:
    """How many alerts each listing holds: one C loop over the archive's memberships."""
    return dict(Counter(chain.from_iterable(map(itemgetter(GROUPS), slims))))


def counts_since(
    before: Mapping[str, int], changes: Iterable[tuple[Slim | None, Slim | None]]
) -> dict[str, int]:
    """`group_counts` of an archive that was counted `before` and then had `changes`
    (before, after; None where there was or is no alert): no pass over the archive."""
    counts = dict(before)
    for old, new in changes:
        for group in old[GROUPS] if old is not None else ():
            counts[group] = counts.get(group, 0) - 1
        for group in new[GROUPS] if new is not None else ():
            counts[group] = counts.get(group, 0) + 1
    return {group: n for group, n in counts.items() if n > 0}


def _month_repr(link: MonthLink | None) -> str:
    return "-" if link is None else f"{link.year}-{link.month}-{link.count}"


# The last part of an alert page's key: who signed it, each part after a NUL (made by C
# loops for the whole archive, see _alert_pages). Commit and fingerprint hold no NUL, so it
# reads back one way only; no commit is called "-".
_SIGNED = attrgetter("commit", "signer_fingerprint", "signer_name")
_UNSIGNED = Provenance("-", "", "")


def _whole(provenance: Mapping[str, Provenance]) -> Mapping[str, Provenance]:
    """`provenance` as a mapping made at once, for a look at every alert: a mapping that
    looks alerts up one by one (the audit's) offers `whole()`."""
    whole = getattr(provenance, "whole", None)
    return provenance if whole is None else whole()


def _signature(signed: Provenance | None) -> str:
    return "\0" + "\0".join(_SIGNED(signed or _UNSIGNED))


def _name(link: MonthLink | None) -> str:
    return "-" if link is None else f"{link.year}-{link.month}"


def _members(slims: Sequence[Slim], wanted: set[str] | None) -> dict[str, list[int]]:
    """The members of listings, as positions in newest-first order: of every listing, or
    of the `wanted` ones (looking only at the alerts issued in their years and months)."""
    if wanted is not None:
        return members_of(slims, wanted)
    groups: defaultdict[str, list[int]] = defaultdict(list)
    for position, slim in enumerate(slims):
        for group in slim[GROUPS]:
            groups[group].append(position)
    return groups


def _gather(slims: Sequence[Slim], group: str) -> list[int]:
    """The members of one listing (when a page that was thought unchanged needs them)."""
    return [
        position
        for position in issued_between(slims, *period_of(group))
        if group in slims[position][GROUPS]
    ]


def _newest(
    slims: Sequence[Slim],
    scope: str,
    n: int,
    groups: Mapping[str, list[int]],
    years: list[tuple[int, int]],
) -> list[int]:
    """The newest `n` members of a scope: those of its newest years (`years`, newest first,
    with their counts) that hold `n`, and of the year before them if it may hold newer
    ones. An alert's year is in its author's offset, so a year's alerts and the year
    before's may interleave within a day of New Year, but never two years apart."""
    if n <= 0:
        return []
    lists: list[list[int]] = []
    newest: list[int] = []
    held, taken = 0, 0
    for year, count in years:
        if held >= n:
            # The year before `taken` ends, in UTC, within a day of New Year.
            second_day = period_of(f"{scope}/{taken}")[0] + 2 * _DAY_US
            if year < taken - 1 or slims[newest[-1]][ISSUED] >= second_day:
                break
        members = groups.get(f"{scope}/{year}")
        lists.append(_gather(slims, f"{scope}/{year}") if members is None else members)
        newest = list(islice(heapq.merge(*lists), n))
        if held >= n:
            break
        held, taken = held + count, year
    return newest


def _current(slims: Sequence[Slim], keys: ItemKeys) -> list[int]:
    """Positions of the current alerts: red before amber, newest first within each level.
    Newest first, so the walk stops at the window's start."""
    found = []
    for position, slim in enumerate(slims):
        if slim[ISSUED] <= keys.window_start_us:
            break
        if flags(slim, keys.now_us, keys.window_start_us)[1]:
            found.append(position)
    return sorted(found, key=lambda p: _RANK[slims[p][LEVEL]])  # stable: newest first


def _month_context(
    link: MonthLink, alerts: Members, newer: MonthLink | None, older: MonthLink | None
) -> Callable[[], dict[str, Any]]:
    return lambda: {
        "month": link,
        "alerts": alerts,
        "newer": newer,
        "older": older,
        "page_scope": "all",
    }


def _alert_context(
    collection: AlertCollection, position: int, now: datetime, signed: Provenance | None
) -> dict[str, Any]:
    alert = collection.alerts[position]
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
    slug: str,
    title: str,
    description: str,
    years: list[tuple[int, int]],
    latest: Members,
    year_list: Callable[[str, str, int], Members],
    text: Callable[[Sequence[int]], str],
) -> Iterator[Page]:
    """A page per scope (its newest alerts, then year links) and a page per scope-year.

    A year page's key is two digests: of what it shares with its scope's other year pages
    (the years, not their counts) and of its list, so that a list can be known by its
    digest alone.
    """
    total = sum(count for _, count in years)
    base = {"kind": kind, "slug": slug, "title": title, "description": description}
    yield Page(
        f"{kind}/{slug}/index.html",
        "listing.html",
        digest(repr((kind, slug, title, description, years)), str(total), text(latest.positions)),
        _listing_context(base, latest, years, None, total),
    )
    # A year's page links every year but shows no count but its own: it changes only with
    # its own year's list (or when a year appears or goes).
    named: list[tuple[int, int | None]] = [(year, None) for year, _ in years]
    head = repr((kind, slug, title, description, named))
    for year, count in years:
        path = f"{kind}/{slug}/{year}/index.html"
        members = year_list(f"{kind}/{slug}/{year}", path, count)
        yield Page(
            path,
            "listing.html",
            digest(head, str(year)) + members.digest,
            _listing_context(base, members, named, year, count),
        )


def _listing_context(
    base: dict[str, Any],
    alerts: Members,
    years: Sequence[tuple[int, int | None]],
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
