"""Cascade's settings, read once from Pelican's settings dict into a frozen, typed object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import SettingsError

DEFAULT_PUBLIC_URL = "https://alerts.example.org"


@dataclass(frozen=True)
class CascadeSettings:
    # Absolute URL the site is published at. Feeds and ids use it whatever SITEURL says,
    # so a development build never writes "tag:None" or a relative link into a feed.
    public_url: str = DEFAULT_PUBLIC_URL
    # RFC 4151 tag authority and the date from which it was held.
    tag_authority: str = "alerts.example.org"
    tag_start: date = date(2012, 7, 27)
    site_name: str = "Cascade alerts"
    # Prefix for links inside pages: "" for root-relative links, or the public URL.
    site_url: str = ""
    timezone: str = "Europe/London"
    current_window_days: int = 7
    home_latest: int = 30
    feed_min_items: int = 50
    feed_retention_days: int = 45
    future_tolerance_minutes: int = 5
    audit_since: str | None = None
    audit_trusted_signers: tuple[str, ...] = field(default_factory=tuple)
    # Per-build choices that publish.py passes in as setting overrides.
    now: datetime | None = None
    production: bool = False
    full_rebuild: bool = False
    no_cache: bool = False
    accept_rewrite: str | None = None  # the recorded reason for accepting rewritten history
    # Where caches, the manifest and the ledger live; relative to the content folder's parent.
    state_dir: str = ".cascade"

    def state_path(self, content: Path) -> Path:
        path = Path(self.state_dir)
        return path if path.is_absolute() else content.resolve().parent / path

    def page_settings(self) -> tuple[object, ...]:
        """The settings any page's content depends on (part of every page's key)."""
        return (
            self.public_url,
            self.site_name,
            self.site_url,
            self.timezone,
            self.current_window_days,
            self.home_latest,
            self.production,
        )

    @classmethod
    def from_pelican(cls, settings: Mapping[str, Any]) -> CascadeSettings:
        """Build from Pelican's settings; missing keys take the defaults above."""
        public_url = str(settings.get("CASCADE_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(
                "CASCADE_PUBLIC_URL", f"{public_url!r} is not an absolute http(s) URL"
            )
        tag_start = settings.get("CASCADE_TAG_START", cls.tag_start)
        if isinstance(tag_start, str):
            tag_start = date.fromisoformat(tag_start)
        return cls(
            public_url=public_url,
            tag_authority=str(settings.get("CASCADE_TAG_AUTHORITY") or parts.hostname),
            tag_start=tag_start,
            site_name=str(settings.get("SITENAME") or cls.site_name),
            site_url=str(settings.get("SITEURL") or "").rstrip("/"),
            timezone=str(settings.get("CASCADE_TIMEZONE") or cls.timezone),
            current_window_days=_positive_int(settings, "CURRENT_WINDOW", cls.current_window_days),
            home_latest=_positive_int(settings, "HOME_LATEST", cls.home_latest),
            feed_min_items=_positive_int(settings, "FEED_MIN_ITEMS", cls.feed_min_items),
            feed_retention_days=_positive_int(
                settings, "FEED_RETENTION_DAYS", cls.feed_retention_days
            ),
            audit_since=settings.get("AUDIT_SINCE"),
            audit_trusted_signers=tuple(settings.get("AUDIT_TRUSTED_SIGNERS") or ()),
            now=_aware_datetime(settings, "CASCADE_NOW"),
            production=bool(settings.get("CASCADE_PRODUCTION", False)),
            full_rebuild=bool(settings.get("CASCADE_FULL_REBUILD", False)),
            no_cache=bool(settings.get("CASCADE_NO_CACHE", False)),
            accept_rewrite=settings.get("CASCADE_ACCEPT_REWRITE"),
            state_dir=str(settings.get("CASCADE_STATE_DIR") or cls.state_dir),
        )


def _positive_int(settings: Mapping[str, Any], key: str, default: int) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(key, f"must be a whole number of 1 or more, not {value!r}")
    return value


def _aware_datetime(settings: Mapping[str, Any], key: str) -> datetime | None:
    value = settings.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise SettingsError(key, f"{value!r} is not an ISO 8601 date-time") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise SettingsError(
            key, "must be a date-time with a UTC offset, like 2017-04-20T21:30:00+01:00"
        )
    return value
