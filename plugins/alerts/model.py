"""The alert domain model: levels, statuses, sectors, sources and the Alert itself."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, overload

# The sector slug an author writes to say "every sector".
ALL_SECTORS = "all"


class Level(enum.Enum):
    """Urgency of an alert. Order matters: red outranks amber outranks green."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"

    @property
    def label(self) -> str:
        return self.value.upper()

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]

    @property
    def meaning(self) -> str:
        return _LEVEL_MEANING[self]

    @property
    def action(self) -> str:
        return _LEVEL_ACTION[self]


_LEVEL_RANK = {Level.RED: 0, Level.AMBER: 1, Level.GREEN: 2}
_LEVEL_MEANING = {
    Level.RED: "A threat to life or to business continuity now.",
    Level.AMBER: "An incident in progress or developing.",
    Level.GREEN: "Advice, bulletins, newsletters, fraud and cyber warnings.",
}
_LEVEL_ACTION = {
    Level.RED: "Act immediately.",
    Level.AMBER: "Be aware and review your plans.",
    Level.GREEN: "Read and share with the staff it concerns.",
}


class Status(enum.Enum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Sector:
    slug: str
    name: str
    description: str


@dataclass(frozen=True)
class Source:
    slug: str
    name: str
    url: str | None = None


@dataclass(frozen=True)
class Correction:
    at: datetime
    note: str


@dataclass(frozen=True)
class Attachment:
    """A file shipped with an alert; `name` is relative to content/attachments/."""

    name: str
    size: int
    media_type: str


@dataclass(frozen=True)
class Provenance:
    """The signed commit that last changed an alert, and the key that signed it."""

    commit: str
    signer_fingerprint: str
    signer_name: str


class _Body:
    """`Alert.body_html`, which an alert read back from the content cache loads only when a
    page or feed first asks for it: bodies are most of an archive's bytes, and a build that
    adds one alert reads only a few of them.

    A data descriptor: it wins over the instance dictionary, where the value is kept once
    known. An alert made by `Alert(...)` has it from the start; a CachedAlert has a loader
    instead.
    """

    @overload
    def __get__(self, alert: None, owner: type) -> _Body: ...
    @overload
    def __get__(self, alert: Alert, owner: type) -> str: ...
    def __get__(self, alert: Alert | None, owner: type) -> str | _Body:
        if alert is None:
            # No class-level default: dataclasses asks, and takes this to mean "required".
            raise AttributeError("body_html")
        state = alert.__dict__
        body = state.get("body_html")
        if body is None:
            load = state.get(_BODY_LOADER)
            if load is None:
                raise AttributeError("body_html")
            body = state["body_html"] = load(alert)
            del state[_BODY_LOADER]
        return body  # type: ignore[no-any-return]

    def __set__(self, alert: Alert, value: str) -> None:
        alert.__dict__["body_html"] = value


_BODY_LOADER = "_load_body"


@dataclass(frozen=True)
class Alert:
    """One validated alert. Every datetime is timezone-aware, in the author's own offset."""

    id: str
    path: str  # relative to the content folder, POSIX separators
    title: str
    level: Level
    issued: datetime
    sectors: tuple[str, ...]  # (ALL_SECTORS,) or sector slugs in the author's order
    sources: tuple[str, ...]
    summary: str
    # Markdown rendered and sanitised: safe to insert into a page or feed.
    body_html: str = _Body()  # type: ignore[assignment]
    updates: str | None = None
    expires: datetime | None = None
    status: Status = Status.ACTIVE
    corrections: tuple[Correction, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    topics: tuple[str, ...] = ()
    content_hash: str = field(default="", compare=False)

    def evolve(self, **changes: Any) -> Alert:
        """dataclasses.replace without reading a body not yet loaded (no validation either:
        for fields worked out after parsing, such as attachment sizes)."""
        alert = object.__new__(type(self))
        object.__setattr__(alert, "__dict__", {**self.__dict__, **changes})
        return alert

    def __getstate__(self) -> dict[str, Any]:
        # A pickled alert carries every field, never a loader (which holds a database).
        return {name: getattr(self, name) for name in _FIELDS}

    def __eq__(self, other: object) -> bool:
        # By fields, whichever kind of Alert (CachedAlert is one) each side is.
        if not isinstance(other, Alert):
            return NotImplemented
        return _compared(self) == _compared(other)

    @property
    def updated(self) -> datetime:
        """The latest moment the alert changed: its newest correction, else its issue."""
        return self.corrections[-1].at if self.corrections else self.issued

    @property
    def withdrawn(self) -> bool:
        return self.status is Status.WITHDRAWN

    @property
    def for_all_sectors(self) -> bool:
        return self.sectors == (ALL_SECTORS,)

    def concerns(self, sector: str) -> bool:
        """True if members of `sector` should see this alert."""
        return self.for_all_sectors or sector in self.sectors

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now

    def current(self, now: datetime, window_days: int) -> bool:
        """Red or amber, active, unexpired and issued within the window before `now`."""
        if self.level is Level.GREEN or self.withdrawn or self.expired(now):
            return False
        # An alert issued a moment after `now` (check allows five minutes of clock skew)
        # is current too.
        return now - self.issued < timedelta(days=window_days)


class CachedAlert(Alert):
    """An Alert read back from the content cache, made with the few fields a pass over the
    whole archive reads (see `cached`); the others are filled in from the cache the first
    time any of them is read, the body when it is read. Equal to the Alert it was read as.
    """

    @classmethod
    def cached(
        cls,
        fields: dict[str, Any],
        fill: Callable[[Alert], dict[str, Any]],
        load_body: Callable[[Alert], str],
    ) -> CachedAlert:
        """An alert with `fields` now, the rest from `fill(alert)` and the body from
        `load_body(alert)` when first read. No validation: the cache holds what was
        validated when the file was parsed."""
        alert = object.__new__(cls)
        fields[_FILL] = fill
        fields[_BODY_LOADER] = load_body
        object.__setattr__(alert, "__dict__", fields)
        return alert

    def __repr__(self) -> str:
        # As the Alert it equals: a repr may be part of a key.
        return "Alert" + Alert.__repr__(self).removeprefix(type(self).__qualname__)


class _Filled:
    """A field of a CachedAlert that reading fills in, with every other one not yet set.

    Not a data descriptor: once filled, the instance dictionary answers. (A class attribute
    of CachedAlert, it also hides the field's default on Alert.)
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, alert: Alert | None, owner: type) -> Any:
        if alert is None:
            return self
        state = alert.__dict__
        fill = state.pop(_FILL, None)
        if fill is None:
            raise AttributeError(self.name)
        for key, value in fill(alert).items():
            state.setdefault(key, value)  # a field set since (Alert.evolve) stands
        return state[self.name]


_FILL = "_fill"
_FIELDS = tuple(f.name for f in fields(Alert))
# Set when a CachedAlert is made; every other field (the body has its own loader) is filled.
_MADE_WITH = ("id", "path", "level", "status", "updates", "content_hash", "body_html")
for _name in _FIELDS:
    if _name not in _MADE_WITH:
        setattr(CachedAlert, _name, _Filled(_name))
_compared = attrgetter(*(f.name for f in fields(Alert) if f.compare))


def newest_first_key(alert: Alert) -> tuple[float, str]:
    """Sort key for newest-first listings; the id breaks ties so order is total and stable."""
    return (-alert.issued.timestamp(), alert.id)
