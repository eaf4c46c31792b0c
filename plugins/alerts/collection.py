"""Rules across alert files (threads, duplicate ids, the clock, attachments) and the indexes
every listing is built from."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import chain, compress, groupby, repeat
from operator import itemgetter, lt
from pathlib import Path
from typing import overload

from .errors import Problem
from .index import ATTACHMENTS, ID, ISSUED, LATEST, SHA, UPDATES, Slim, micros
from .model import ALL_SECTORS, Alert, Attachment, Level, newest_first_key
from .validate import ParsedAlert

ATTACHMENTS_DIR = "attachments"


@dataclass(frozen=True)
class AlertCollection:
    """Every valid alert, newest first, with the lookups pages and feeds need."""

    alerts: Sequence[Alert]
    by_id: Mapping[str, Alert] = field(repr=False)
    children: Mapping[str, tuple[str, ...]] = field(repr=False)
    # Each alert's slim record (index.py), in the same order, when made from the cache.
    slims: Sequence[Slim] | None = field(default=None, repr=False)
    # Each attachment's size (or why it cannot be used), when made from the cache.
    sizes: Mapping[str, int | str] = field(default_factory=dict, repr=False)

    @classmethod
    def lazily(
        cls,
        slims: Sequence[Slim],
        make: Callable[[int], Alert],
        sizes: Mapping[str, int | str] | None = None,
        positions: dict[str, int] | None = None,
    ) -> AlertCollection:
        """The alerts whose slim records are `slims` (newest first), each built by
        `make(position)` only when first asked for: a build that adds one alert to an
        archive of thousands looks at few of them. `positions`: where each id's record is,
        if the caller has made it already."""
        alerts = LazyAlerts(len(slims), make)
        if positions is None:
            positions = dict(zip(map(itemgetter(ID), slims), range(len(slims)), strict=True))
        # Each parent's updates, oldest first: sorted in C, then one step per parent.
        threaded = sorted(filter(itemgetter(UPDATES), slims), key=itemgetter(UPDATES, ISSUED, ID))
        return cls(
            alerts=alerts,
            by_id=LazyById(positions, alerts),
            children={
                parent: tuple(map(itemgetter(ID), kids))
                for parent, kids in groupby(threaded, itemgetter(UPDATES))
            },
            slims=slims,
            sizes=sizes or {},
        )

    @classmethod
    def of(cls, alerts: Iterable[Alert]) -> AlertCollection:
        ordered = tuple(sorted(alerts, key=newest_first_key))
        children: defaultdict[str, list[Alert]] = defaultdict(list)
        for alert in ordered:
            if alert.updates:
                children[alert.updates].append(alert)
        return cls(
            alerts=ordered,
            by_id={alert.id: alert for alert in ordered},
            children={
                parent: tuple(a.id for a in sorted(kids, key=lambda a: (a.issued, a.id)))
                for parent, kids in children.items()
            },
        )

    def attachment_names(self) -> list[str]:
        """Every attachment some alert names, sorted."""
        if self.slims is not None:
            return sorted(set(chain.from_iterable(map(itemgetter(ATTACHMENTS), self.slims))))
        return sorted({a.name for alert in self.alerts for a in alert.attachments})

    def thread(self, alert: Alert) -> tuple[Alert, ...]:
        """The whole incident thread `alert` belongs to, oldest first; empty if it stands
        alone (templates test `if thread`)."""
        root = self._root(alert)
        members: list[Alert] = []
        stack = [root.id]
        visited: set[str] = set()
        while stack:
            current = self.by_id[stack.pop()]
            if current.id in visited:
                continue
            visited.add(current.id)
            members.append(current)
            stack.extend(self.children.get(current.id, ()))
        if len(members) == 1:
            return ()
        return tuple(sorted(members, key=lambda a: (a.issued, a.id)))

    def position(self, alert_id: str) -> int:
        """Where the alert is in `alerts` (newest first)."""
        if isinstance(self.by_id, LazyById):
            return self.by_id.position(alert_id)
        return self._positions()[alert_id]

    def _positions(self) -> dict[str, int]:
        positions: dict[str, int] | None = self.__dict__.get("_made_positions")
        if positions is None:
            positions = {alert.id: position for position, alert in enumerate(self.alerts)}
            object.__setattr__(self, "_made_positions", positions)  # a cache, not a field
        return positions

    def _threaded(self, alert_id: str) -> tuple[int, str, str, str | None]:
        """(issued, id, hash, parent) of an alert, from its slim record if there is one."""
        if self.slims is not None:
            s = self.slims[self.position(alert_id)]
            return (s[ISSUED], s[ID], s[SHA], s[UPDATES])
        a = self.by_id[alert_id]
        return (micros(a.issued), a.id, a.content_hash, a.updates)

    def thread_members(self, alert_ids: Iterable[str]) -> set[str]:
        """Every alert in the same thread as one of `alert_ids` (those that exist), and
        those alerts themselves."""
        found: set[str] = set()
        stack = [alert_id for alert_id in alert_ids if alert_id in self.by_id]
        while stack:
            alert_id = stack.pop()
            if alert_id in found:
                continue
            found.add(alert_id)
            parent = self._threaded(alert_id)[3]
            if parent is not None and parent in self.by_id:
                stack.append(parent)
            stack.extend(self.children.get(alert_id, ()))
        return found

    def thread_keys(self, only: Iterable[str] | None = None) -> dict[str, str]:
        """For each alert in a thread, a line naming every member and its file's hash, oldest
        first (what `thread()` shows, as part of a page key): one pass, not one walk per
        alert, and no alert built when made from the cache. With `only`, for the threads of
        those alerts only."""
        if only is not None:
            members = [
                record
                for record in map(self._threaded, self.thread_members(only))
                if record[3] is not None or record[1] in self.children
            ]
        elif self.slims is None:
            members = [
                (micros(a.issued), a.id, a.content_hash, a.updates)
                for a in self.alerts
                if a.updates is not None or a.id in self.children
            ]
        else:
            members = [
                (s[ISSUED], s[ID], s[SHA], s[UPDATES])
                for s in self.slims
                if s[UPDATES] is not None or s[ID] in self.children
            ]
        parents = {alert_id: updates for _, alert_id, _, updates in members}
        groups: dict[str, list[tuple[int, str, str, str | None]]] = {}
        for member in members:
            root, seen = member[1], {member[1]}
            # check_collection refuses cycles, but a loop here must not hang a build.
            while (up := parents.get(root)) is not None and up in parents and up not in seen:
                root = up
                seen.add(root)
            groups.setdefault(root, []).append(member)
        keys: dict[str, str] = {}
        for group in groups.values():
            if len(group) < 2:
                continue
            group.sort()
            line = " ".join(f"{alert_id}:{sha}" for _, alert_id, sha, _ in group)
            for _, alert_id, _, _ in group:
                keys[alert_id] = line
        return keys

    def _root(self, alert: Alert) -> Alert:
        root = alert
        seen = {alert.id}
        # check_collection refuses cycles, but a loop here must not hang a build.
        while root.updates and root.updates in self.by_id and root.updates not in seen:
            root = self.by_id[root.updates]
            seen.add(root.id)
        return root

    def sector_index(self, slugs: Iterable[str]) -> dict[str, list[Alert]]:
        """Each sector's alerts, newest first, with every all-sectors alert: one pass."""
        index: dict[str, list[Alert]] = {slug: [] for slug in slugs}
        for alert in self.alerts:
            targets = index.keys() if alert.sectors == (ALL_SECTORS,) else alert.sectors
            for slug in targets:
                if slug in index:
                    index[slug].append(alert)
        return index

    def level_index(self) -> dict[Level, list[Alert]]:
        index: dict[Level, list[Alert]] = {level: [] for level in Level}
        for alert in self.alerts:
            index[alert.level].append(alert)
        return index

    def for_sector(self, slug: str) -> list[Alert]:
        return [alert for alert in self.alerts if alert.concerns(slug)]

    def for_level(self, level: Level) -> list[Alert]:
        return [alert for alert in self.alerts if alert.level is level]

    def current(self, now: datetime, window_days: int) -> list[Alert]:
        """Red before amber, newest first within each level."""
        # Newest first: past the window's start, no alert can be current.
        start = now - timedelta(days=window_days)
        live = []
        for alert in self.alerts:
            if alert.issued <= start:
                break
            if alert.current(now, window_days):
                live.append(alert)
        return sorted(live, key=lambda a: (a.level.rank, *newest_first_key(a)))


class LazyAlerts(Sequence[Alert]):
    """A sequence whose items are made on first access and kept."""

    def __init__(self, length: int, make: Callable[[int], Alert]) -> None:
        self._made: list[Alert | None] = [None] * length
        self._make = make

    def __len__(self) -> int:
        return len(self._made)

    @overload
    def __getitem__(self, index: int) -> Alert: ...
    @overload
    def __getitem__(self, index: slice) -> list[Alert]: ...
    def __getitem__(self, index: int | slice) -> Alert | list[Alert]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._made)))]
        alert = self._made[index]
        if alert is None:
            position = index if index >= 0 else index + len(self._made)
            alert = self._made[index] = self._make(position)
        return alert

    def __iter__(self) -> Iterator[Alert]:
        made, make = self._made, self._make
        for position, alert in enumerate(made):
            if alert is None:
                alert = made[position] = make(position)
            yield alert


class LazyById(Mapping[str, Alert]):
    """Alerts by id over a LazyAlerts: asking whether an id exists builds nothing."""

    def __init__(self, positions: dict[str, int], alerts: LazyAlerts) -> None:
        self._positions = positions
        self._alerts = alerts

    def __getitem__(self, alert_id: str) -> Alert:
        return self._alerts[self._positions[alert_id]]

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._positions

    def position(self, alert_id: str) -> int:
        return self._positions[alert_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


def check_collection(
    parsed: Sequence[ParsedAlert],
    now: datetime,
    future_tolerance: timedelta,
    content: Path,
) -> tuple[list[Alert], list[Problem]]:
    """Apply the rules that need more than one file; returns the alerts with attachment
    sizes filled in, and every problem found."""
    by_alert = {id(item.alert): item for item in parsed}
    return check_alerts(
        [item.alert for item in parsed],
        lambda alert, field: by_alert[id(alert)].line(field),
        now,
        future_tolerance,
        content,
    )


def check_alerts(
    alerts: Sequence[Alert],
    line: Callable[[Alert, str], int],
    now: datetime,
    future_tolerance: timedelta,
    content: Path,
) -> tuple[list[Alert], list[Problem]]:
    """check_collection for alerts whose front-matter lines `line(alert, field)` gives
    (asked only to word a problem). One pass that makes no new object for an alert with
    nothing to change: it runs over the whole archive on every build."""
    problems: list[Problem] = []
    by_id: dict[str, Alert] = {}
    clashes = False
    for alert in alerts:
        if by_id.setdefault(alert.id, alert) is not alert:
            clashes = True
    if clashes:
        problems.extend(_duplicate_ids(alerts))

    checked: list[Alert] = []
    latest_allowed = now + future_tolerance
    base = content.resolve() / ATTACHMENTS_DIR
    sizes: dict[str, int | str] = {}
    for alert in alerts:
        if alert.issued > latest_allowed:
            problems.append(_future_issue(alert, line, now, future_tolerance))
        if alert.updates:
            parent = by_id.get(alert.updates)
            if not parent:
                problems.append(_no_parent(alert, line))
            elif parent.issued >= alert.issued:
                problems.append(_parent_later(alert, line))
        for correction in alert.corrections:
            if correction.at > latest_allowed:
                problems.append(_future_correction(alert, correction.at, line))
        if alert.attachments:
            alert = _with_sizes(alert, line, content, base, sizes, problems)
        checked.append(alert)
    return checked, problems


def check_cached(
    slims: Sequence[Slim],
    rels: Sequence[str],
    positions: Mapping[str, int],
    alert: Callable[[str], Alert],
    line: Callable[[Alert, str], int],
    now: datetime,
    future_tolerance: timedelta,
    content: Path,
) -> tuple[dict[str, int | str], list[Problem]]:
    """check_alerts for alerts known by their slim records (those of the files `rels`, and
    where each id's record is: `positions`): the records say which alerts could break a
    rule, and only those are built (`alert(rel)`) to word a problem. Returns each
    attachment's size (or why it cannot be used) and the problems."""
    problems: list[Problem] = []
    if len(positions) < len(slims):
        ids = Counter(map(itemgetter(ID), slims))
        clashing = [alert(rel) for rel, slim in zip(rels, slims, strict=True) if ids[slim[ID]] > 1]
        problems.extend(_duplicate_ids(clashing))

    latest_allowed = now + future_tolerance
    limit = micros(latest_allowed)
    # Few alerts name a moment past the limit, a parent or an attachment: C loops find
    # them, and only those are looked at closer.
    for rel in compress(rels, map(lt, repeat(limit), map(itemgetter(LATEST), slims))):
        suspect = alert(rel)
        if suspect.issued > latest_allowed:
            problems.append(_future_issue(suspect, line, now, future_tolerance))
        for correction in suspect.corrections:
            if correction.at > latest_allowed:
                problems.append(_future_correction(suspect, correction.at, line))
    # An update whose parent is missing or not older.
    for position in compress(range(len(slims)), map(itemgetter(UPDATES), slims)):
        slim = slims[position]
        parent = positions.get(slim[UPDATES])
        if parent is None:
            problems.append(_no_parent(alert(rels[position]), line))
        elif slims[parent][ISSUED] >= slim[ISSUED]:
            problems.append(_parent_later(alert(rels[position]), line))
    # Every attachment named, in the order first named, and which files name some (C loops).
    attachments = list(map(itemgetter(ATTACHMENTS), slims))
    named = dict(zip(compress(rels, attachments), compress(attachments, attachments), strict=True))
    attached = list(named)
    names = dict.fromkeys(chain.from_iterable(named.values()))

    base = content.resolve() / ATTACHMENTS_DIR
    sizes: dict[str, int | str] = {}
    for name in names:
        resolved = _resolve(content, base, Attachment(name, 0, ""))
        sizes[name] = resolved if isinstance(resolved, str) else resolved.size
        if isinstance(resolved, str):
            for rel in (rel for rel in attached if name in named[rel]):
                unusable = alert(rel)
                for index, attachment in enumerate(unusable.attachments):
                    if attachment.name == name:
                        problems.append(
                            Problem(
                                unusable.path,
                                line(unusable, "attachments"),
                                f"attachments[{index}]",
                                resolved,
                            )
                        )
    return sizes, problems


def with_sizes(alert: Alert, sizes: Mapping[str, int | str]) -> Alert:
    """`alert` with the attachment sizes check_cached found."""
    if all(sizes.get(a.name) == a.size for a in alert.attachments):
        return alert
    return alert.evolve(
        attachments=tuple(
            replace(a, size=size) if isinstance(size := sizes.get(a.name), int) else a
            for a in alert.attachments
        )
    )


def _future_issue(
    alert: Alert, line: Callable[[Alert, str], int], now: datetime, tolerance: timedelta
) -> Problem:
    return Problem(
        alert.path,
        line(alert, "issued"),
        "issued",
        f"{alert.issued.isoformat()} is in the future (at most "
        f"{int(tolerance.total_seconds() // 60)} minutes after now, "
        f"{now.isoformat(timespec='seconds')}; check the year)",
    )


def _future_correction(alert: Alert, at: datetime, line: Callable[[Alert, str], int]) -> Problem:
    return Problem(
        alert.path, line(alert, "corrections"), "corrections", f"{at.isoformat()} is in the future"
    )


def _no_parent(alert: Alert, line: Callable[[Alert, str], int]) -> Problem:
    return Problem(
        alert.path,
        line(alert, "updates"),
        "updates",
        f"{alert.updates!r} is not an alert id in content/alerts/",
    )


def _parent_later(alert: Alert, line: Callable[[Alert, str], int]) -> Problem:
    return Problem(
        alert.path,
        line(alert, "updates"),
        "updates",
        f"{alert.updates!r} must be issued before this alert",
    )


def _duplicate_ids(alerts: Sequence[Alert]) -> list[Problem]:
    by_id: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_id[alert.id].append(alert)
    problems = []
    for alert_id, same in by_id.items():
        if len(same) > 1:
            others = ", ".join(sorted(alert.path for alert in same))
            for alert in same:
                problems.append(
                    Problem(
                        alert.path,
                        1,
                        "id",
                        f"{alert_id!r} is used by more than one file ({others})",
                    )
                )
    return problems


def _with_sizes(
    alert: Alert,
    line: Callable[[Alert, str], int],
    content: Path,
    base: Path,
    sizes: dict[str, int | str],
    problems: list[Problem],
) -> Alert:
    """The alert with each attachment's size as the file has it now (looked up once per
    file per build: many alerts can share one), or the problems of those it cannot use."""
    attachments: list[Attachment] = []
    for index, attachment in enumerate(alert.attachments):
        size = sizes.get(attachment.name)
        if size is None:
            resolved = _resolve(content, base, attachment)
            size = sizes[attachment.name] = resolved if isinstance(resolved, str) else resolved.size
        if isinstance(size, str):
            problems.append(
                Problem(alert.path, line(alert, "attachments"), f"attachments[{index}]", size)
            )
        elif size == attachment.size:
            attachments.append(attachment)
        else:
            attachments.append(replace(attachment, size=size))
    if len(attachments) == len(alert.attachments) and all(
        new is old for new, old in zip(attachments, alert.attachments, strict=True)
    ):
        return alert
    return alert.evolve(attachments=tuple(attachments))


def resolve_attachment(content: Path, attachment: Attachment) -> Attachment | str:
    """Fill in the file's size, or say why it cannot be used."""
    # Resolve content/, not content/attachments/: if attachments/ itself is a link out,
    # everything in it is outside.
    return _resolve(content, content.resolve() / ATTACHMENTS_DIR, attachment)


def _resolve(content: Path, base: Path, attachment: Attachment) -> Attachment | str:
    path = content / ATTACHMENTS_DIR / attachment.name
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, "file.pdf/x", a loop, unreadable
        return f"{attachment.name!r} does not exist in content/attachments/"
    if not resolved.is_relative_to(base):
        return (
            f"{attachment.name!r} resolves outside content/attachments/ (links out are not allowed)"
        )
    if not resolved.is_file():
        return f"{attachment.name!r} is not a file"
    return replace(attachment, size=resolved.stat().st_size)


def sector_scopes(alert: Alert, all_sectors: Iterable[str]) -> tuple[str, ...]:
    """The sector pages and feeds an alert appears in."""
    if alert.sectors == (ALL_SECTORS,):
        return tuple(all_sectors)
    return alert.sectors
