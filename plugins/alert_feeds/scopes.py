"""Which alerts each feed carries, and where its files and HTML page live."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.model import ALL_SECTORS, Alert, Level, Sector


class FeedFormat(enum.StrEnum):
    """A feed file format. Members are strings, so `FeedFormat("atom")` and "atom" both work."""

    ATOM = "atom"
    RSS = "rss"
    JSON = "json"

    @property
    def suffix(self) -> str:
        return _SUFFIX[self]

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPE[self]


_SUFFIX = {FeedFormat.ATOM: ".atom.xml", FeedFormat.RSS: ".rss.xml", FeedFormat.JSON: ".json"}
_MEDIA_TYPE = {
    FeedFormat.ATOM: "application/atom+xml",
    FeedFormat.RSS: "application/rss+xml",
    FeedFormat.JSON: "application/feed+json",
}

# Every format each scope is published in, in the order pages should offer them.
FORMATS: tuple[FeedFormat, ...] = tuple(FeedFormat)

# "Urgent" is what a member who must act cares about: red and amber, never green.
URGENT_LEVELS: frozenset[Level] = frozenset({Level.RED, Level.AMBER})


@dataclass(frozen=True)
class FeedScope:
    """One feed: the alerts it selects, its title, and the page it is the feed of."""

    key: str  # "all", "levels/red", "sectors/retail", "sectors/retail/red", ...
    title: str
    levels: frozenset[Level] | None  # None: every level
    sector: str | None  # None: every sector
    description: str

    def includes(self, alert: Alert) -> bool:
        """True if the alert belongs in this feed; a sector feed carries alerts for all too."""
        if self.levels is not None and alert.level not in self.levels:
            return False
        return self.sector is None or alert.concerns(self.sector)

    @property
    def page_path(self) -> str:
        """The site-relative URL path of the HTML page this feed mirrors."""
        if self.sector is not None:
            # Sector-and-level feeds have no page of their own: the sector page lists them.
            return f"/sectors/{self.sector}/"
        if self.levels is not None and len(self.levels) == 1:
            (level,) = self.levels
            return f"/levels/{level.value}/"
        return "/"

    def feed_path(self, fmt: FeedFormat | str) -> str:
        """The output path, relative to the output folder, e.g. `feeds/all.atom.xml`."""
        return f"feeds/{self.key}{FeedFormat(fmt).suffix}"


def everything_scope() -> FeedScope:
    return FeedScope(
        key="all",
        title="All alerts",
        levels=None,
        sector=None,
        description="Every alert, at every level, for every sector.",
    )


def level_scope(level: Level) -> FeedScope:
    return FeedScope(
        key=f"levels/{level.value}",
        title=f"{level.label} alerts",
        levels=frozenset({level}),
        sector=None,
        description=f"Every {level.label} alert, for every sector. {level.meaning}",
    )


def sector_scopes(sector: Sector) -> list[FeedScope]:
    """The sector's own feed, its urgent feed, then one feed per level."""
    slug, name = sector.slug, sector.name
    scopes = [
        FeedScope(
            key=f"sectors/{slug}",
            title=name,
            levels=None,
            sector=slug,
            description=f"Alerts for {name}, and alerts for every sector, at every level.",
        ),
        FeedScope(
            key=f"sectors/{slug}/urgent",
            title=f"{name}: urgent (RED and AMBER) alerts",
            levels=URGENT_LEVELS,
            sector=slug,
            description=f"RED and AMBER alerts for {name}, and for every sector.",
        ),
    ]
    scopes.extend(
        FeedScope(
            key=f"sectors/{slug}/{level.value}",
            title=f"{name}: {level.label} alerts",
            levels=frozenset({level}),
            sector=slug,
            description=f"{level.label} alerts for {name}, and for every sector. {level.meaning}",
        )
        for level in Level
    )
    return scopes


def all_scopes(sectors: Sequence[Sector]) -> list[FeedScope]:
    """Every feed the site publishes: everything, each level, then each sector in given order."""
    seen: set[str] = set()
    for sector in sectors:
        if sector.slug == ALL_SECTORS or sector.slug in seen:
            # Either would make two scopes share a key, so two feeds share one file and id.
            raise ValueError(f"sector slug {sector.slug!r} is reserved or repeated")
        seen.add(sector.slug)
    scopes = [everything_scope()]
    scopes.extend(level_scope(level) for level in Level)
    for sector in sectors:
        scopes.extend(sector_scopes(sector))
    return scopes
