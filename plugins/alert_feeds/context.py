"""What every feed format needs beyond the alerts: lookups, URLs, ids and shared entry text."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from alerts.errors import BuildError
from alerts.fragments import FragmentStore
from alerts.index import ATTACHMENTS, ID, SHA, Slim, micros
from alerts.model import ALL_SECTORS, Alert, Provenance, Sector, Source, newest_first_key
from alerts.settings import CascadeSettings

from .html import absolutise, xml_safe

if TYPE_CHECKING:
    from .entry import Category, EntryMetadata

ALL_SECTORS_LABEL = "All sectors"


@dataclass(frozen=True)
class FeedEntries:
    """One feed's entries, newest first, as a renderer needs them: what each shows (its token,
    which names its stored rendering) and when each last changed, with each Alert made only
    when asked for: for an entry that must be rendered, or for the one that dates the feed."""

    tokens: Sequence[str]
    latest: Sequence[int]  # each entry's `updated`, in microseconds since the epoch
    alert: Callable[[int], Alert]  # the entry at a place

    def updated(self, ctx: FeedContext) -> datetime:
        """The newest entry's `updated` (the first of equal instants), never the build time;
        an empty feed says tag_start 00:00Z."""
        if not self.tokens:
            return datetime.combine(ctx.settings.tag_start, time(0, 0), tzinfo=UTC)
        return self.alert(self.latest.index(max(self.latest))).updated


@dataclass(frozen=True)
class FeedContext:
    """Everything about the site a renderer needs; every text it hands out is XML-safe."""

    settings: CascadeSettings
    sectors: Mapping[str, Sector]
    sources: Mapping[str, Source]
    provenance: Mapping[str, Provenance]  # by alert id; missing when not known
    # Every alert of the build by id, so an update can name the alert it follows even when
    # that alert has left the feed (retention) or is outside its scope.
    alerts: Mapping[str, Alert] = field(default_factory=dict)
    # Rendered entries, shared by every feed an alert appears in and kept between builds.
    fragments: FragmentStore = field(default_factory=lambda: FragmentStore(None), repr=False)
    # Names the code and settings that shape an entry; part of every fragment's key.
    salt: str = ""
    # An alert appears in many feeds; its content HTML is worked out once per build.
    _content: dict[Alert, str] = field(default_factory=dict, compare=False, repr=False)
    # ... and so is its token, by object identity (hashing an Alert hashes its body); the
    # alert is held too, so its id() cannot pass to another object.
    _tokens: dict[int, tuple[Alert, str]] = field(default_factory=dict, compare=False, repr=False)
    # Fragment keys, by token.
    _keys: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def entry_token(self, alert: Alert) -> str:
        """Everything the alert's entry shows, besides the salt and the site's settings.

        A file's hash names all that was parsed from it (the code that parsed it and the
        registry are in the salt); attachment sizes come from content/attachments/. An alert
        not read from a file has no hash and is named by every field. The signer comes from
        elsewhere, and so does the parent's issue date (in the tag id an update names): the
        parent's hash names it, or, for a parent not read from a file, the date itself.
        The path is not named: no entry shows it, and the id and hash say what was parsed.
        """
        known = self._tokens.get(id(alert))
        if known is not None and known[0] is alert:
            return known[1]
        parent = self.alerts.get(alert.updates) if alert.updates else None
        origin = (
            (alert.id, alert.content_hash, tuple(a.size for a in alert.attachments))
            if alert.content_hash
            else repr(alert)
        )
        named = None if parent is None else parent.content_hash or parent.issued.isoformat()
        token = self._token(alert.id, origin, named)
        self._tokens[id(alert)] = (alert, token)
        return token

    def record_token(
        self, record: Slim, sizes: Mapping[str, int | str], parent: Slim | None
    ) -> str:
        """`entry_token` of a hashed alert from its slim record, its parent's (None if it
        updates none, or one not in the build) and the attachment sizes the build found:
        the same string, without making the Alert. The parent's record must have a hash."""
        origin = (record[ID], record[SHA], tuple(map(sizes.get, record[ATTACHMENTS])))
        return self._token(record[ID], origin, None if parent is None else parent[SHA])

    def _token(self, alert_id: str, origin: object, parent: str | None) -> str:
        return repr((origin, self.provenance.get(alert_id), parent))

    def entries(self, alerts: Sequence[Alert] | FeedEntries) -> FeedEntries:
        """A renderer's `entries` as FeedEntries: alerts (in any order) sorted newest first."""
        if isinstance(alerts, FeedEntries):
            return alerts
        ordered = sorted(alerts, key=newest_first_key)
        return FeedEntries(
            tokens=[self.entry_token(alert) for alert in ordered],
            latest=[micros(alert.updated) for alert in ordered],
            alert=ordered.__getitem__,
        )

    def fragments_of(
        self, kind: str, entries: FeedEntries, render: Callable[[Alert], bytes]
    ) -> list[bytes]:
        """Each entry rendered as `kind`, in order: from the store when nothing it shows
        changed, else from `render(alert)` (the only time the entry's Alert is made)."""
        # One store query per few hundred entries, not one per entry.
        known = self._keys  # most tokens' keys were worked out by an earlier feed
        keys = [
            f"{kind}:{known[token] if token in known else self._fragment_key(token)}"
            for token in entries.tokens
        ]
        return self.fragments.get_many(keys, lambda index: render(entries.alert(index)))

    def _fragment_key(self, token: str) -> str:
        known = self._keys.get(token)
        if known is not None:
            return known
        settings = self.settings
        inputs = (self.salt, settings.public_url, settings.tag_authority, settings.site_name, token)
        key = self._keys[token] = hashlib.sha256(repr(inputs).encode()).hexdigest()
        return key

    # URLs and ids

    def url(self, path: str) -> str:
        """An absolute URL on the public site for a site-relative path."""
        return f"{self.settings.public_url.rstrip('/')}/{path.lstrip('/')}"

    def alert_url(self, alert_id: str) -> str:
        return self.url(f"/alerts/{quote(alert_id, safe='')}/")

    def attachment_url(self, name: str) -> str:
        return self.url(f"/attachments/{quote(name)}")

    def entry_id(self, alert: Alert) -> str:
        """The alert's RFC 4151 tag, dated by its issue date in the author's own offset."""
        day = alert.issued.date().isoformat()
        return f"tag:{self.settings.tag_authority},{day}:/alerts/{alert.id}"

    def feed_id(self, scope_key: str) -> str:
        start = self.settings.tag_start.isoformat()
        return f"tag:{self.settings.tag_authority},{start}:/feeds/{scope_key}"

    # Lookups

    def source_list(self, alert: Alert) -> tuple[Source, ...]:
        """The alert's sources; an unknown slug (validation's job) still names itself."""
        found = (self.sources.get(slug) or Source(slug=slug, name=slug) for slug in alert.sources)
        return tuple(
            Source(slug=s.slug, name=xml_safe(s.name), url=s.url and xml_safe(s.url)) for s in found
        )

    def sector_label(self, slug: str) -> str:
        if slug == ALL_SECTORS:
            return ALL_SECTORS_LABEL
        sector = self.sectors.get(slug)
        return xml_safe(sector.name if sector else slug)

    def parent(self, alert: Alert) -> Alert | None:
        if alert.updates is None:
            return None
        parent = self.alerts.get(alert.updates)
        if parent is None:
            raise BuildError(
                f"alert {alert.id!r} updates {alert.updates!r}, which is not in "
                "FeedContext.alerts: pass every alert of the build by id"
            )
        return parent

    # Entry text shared by Atom, RSS and JSON Feed

    def entry_title(self, alert: Alert) -> str:
        """`AMBER: title`, or `WITHDRAWN: AMBER: title`, so the level shows in any reader."""
        prefix = "WITHDRAWN: " if alert.withdrawn else ""
        return xml_safe(f"{prefix}{alert.level.label}: {alert.title}")

    def summary_text(self, alert: Alert) -> str:
        return xml_safe(alert.summary)

    def content_html(self, alert: Alert) -> str:
        if alert not in self._content:
            self._content[alert] = self._content_html(alert)
        return self._content[alert]

    def _content_html(self, alert: Alert) -> str:
        """The body with absolute URLs, plus what readers would otherwise miss.

        A withdrawal notice leads, then the body, the corrections and a list of every
        attachment (RSS can carry only one enclosure, so the list is the only complete one).
        """
        parts: list[str] = []
        if alert.withdrawn:
            parts.append("<p><strong>This alert has been withdrawn.</strong></p>\n")
        parts.append(absolutise(alert.body_html, self.alert_url(alert.id)))
        if alert.corrections:
            items = "".join(
                f"<li>{c.at:%Y-%m-%d %H:%M %z}: {escape(c.note, quote=False)}</li>"
                for c in alert.corrections
            )
            parts.append(f"\n<h2>Corrections</h2>\n<ul>{items}</ul>")
        if alert.attachments:
            items = "".join(
                f'<li><a href="{escape(self.attachment_url(a.name))}">'
                f"{escape(a.name, quote=False)}</a> ({escape(a.media_type, quote=False)}, "
                f"{a.size:,} bytes)</li>"
                for a in alert.attachments
            )
            parts.append(f"\n<h2>Attachments</h2>\n<ul>{items}</ul>")
        return xml_safe("".join(parts))

    def categories(self, alert: Alert) -> tuple[Category, ...]:
        """Level, then each sector, then each topic, each under its own scheme URL."""
        from .entry import Category  # only an entry being rendered needs it (see entry.py)

        level = Category(alert.level.value, self.url("/levels/"), alert.level.label)
        sectors = tuple(
            Category(xml_safe(slug), self.url("/sectors/"), self.sector_label(slug))
            for slug in alert.sectors
        )
        topics = tuple(
            Category(xml_safe(topic), self.url("/topics/"), None) for topic in alert.topics
        )
        return (level, *sectors, *topics)

    def metadata(self, alert: Alert) -> EntryMetadata:
        from .entry import EntryMetadata, ThreadParent  # as in categories()

        parent = self.parent(alert)
        provenance = self.provenance.get(alert.id)
        if provenance is not None:
            provenance = Provenance(
                commit=xml_safe(provenance.commit),
                signer_fingerprint=xml_safe(provenance.signer_fingerprint),
                signer_name=xml_safe(provenance.signer_name),
            )
        return EntryMetadata(
            level=alert.level.value,
            sectors=tuple(xml_safe(slug) for slug in alert.sectors),
            sources=tuple(xml_safe(slug) for slug in alert.sources),
            updates=(
                None
                if parent is None
                else ThreadParent(ref=self.entry_id(parent), href=self.alert_url(parent.id))
            ),
            expires=alert.expires,
            status=alert.status.value,
            provenance=provenance,
        )
