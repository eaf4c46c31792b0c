"""feedgen extensions: Cascade's entry elements, RFC 4685 threads, and what feedgen leaves out.

Each is a pair, as in `feedgen/ext/syndication.py`: a feed class that declares the namespace
on the root element, and an entry class that writes the elements. They are plain classes, not
subclasses of feedgen's untyped `BaseExtension`: feedgen only calls the methods below, and
this keeps mypy --strict honest without an ignore.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar

from lxml import etree

from .entry import EntryMetadata, ThreadParent
from .namespaces import ATOM_NS, CASCADE_NS, THREAD_NS

# Names to pass to FeedGenerator.register_extension; feedgen sets them as attributes on every
# entry, so `entry.cascade.metadata(...)` and `entry.thr.in_reply_to(...)`.
CASCADE = "cascade"
THREAD = "thr"
ATOM_LINKS = "atom_links"
RSS_UPDATED = "rss_updated"


def _add(parent: etree._Element, ns: str, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        element.text = text
    return element


class _FeedLevel:
    """The feed half of a feedgen extension pair: declares a prefix on the document element
    (or nothing) and leaves the feed itself unchanged; the entry half does the work."""

    namespaces: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def extend_ns(self) -> dict[str, str]:
        return dict(self.namespaces)

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        return feed


class CascadeExtension(_FeedLevel):
    """Declares the `cascade` prefix once on the feed root so entries do not repeat it."""

    namespaces = MappingProxyType({CASCADE: CASCADE_NS})


class CascadeEntryExtension:
    """Writes level, each sector and source, updates, expires, status, commit and signer."""

    def __init__(self) -> None:
        self._metadata: EntryMetadata | None = None

    def metadata(self, metadata: EntryMetadata | None = None) -> EntryMetadata | None:
        """Get or set the entry's metadata, feedgen style."""
        if metadata is not None:
            self._metadata = metadata
        return self._metadata

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        meta = self._metadata
        if meta is None:
            return entry
        _add(entry, CASCADE_NS, "level", meta.level)
        for sector in meta.sectors:
            _add(entry, CASCADE_NS, "sector", sector)
        for source in meta.sources:
            _add(entry, CASCADE_NS, "source", source)
        if meta.updates is not None:
            # The text is the parent's entry id, the attribute its page, as in thr:in-reply-to.
            _add(entry, CASCADE_NS, "updates", meta.updates.ref).set("href", meta.updates.href)
        if meta.expires is not None:
            _add(entry, CASCADE_NS, "expires", meta.expires.isoformat())
        _add(entry, CASCADE_NS, "status", meta.status)
        if meta.provenance is not None:
            _add(entry, CASCADE_NS, "commit", meta.provenance.commit)
            signer = _add(entry, CASCADE_NS, "signer", meta.provenance.signer_fingerprint)
            signer.set("name", meta.provenance.signer_name)
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        return self.extend_atom(item)


class ThreadExtension(_FeedLevel):
    """Declares the RFC 4685 `thr` prefix on the Atom feed root."""

    namespaces = MappingProxyType({THREAD: THREAD_NS})


class ThreadEntryExtension:
    """Writes `thr:in-reply-to` when the entry updates an earlier alert."""

    def __init__(self) -> None:
        self._parent: ThreadParent | None = None

    def in_reply_to(self, parent: ThreadParent | None = None) -> ThreadParent | None:
        if parent is not None:
            self._parent = parent
        return self._parent

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self._parent is not None:
            element = _add(entry, THREAD_NS, "in-reply-to")
            element.set("ref", self._parent.ref)
            element.set("href", self._parent.href)
            element.set("type", "text/html")
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        # RFC 4685 is an Atom extension; RSS readers get cascade:updates instead.
        return item


@dataclass(frozen=True)
class AtomLink:
    """One atom:link of an entry; `length` in bytes, for enclosures."""

    href: str
    rel: str
    type: str
    title: str | None = None
    length: int | None = None


class AtomLinksExtension(_FeedLevel):
    """Nothing to declare: entry links live in the Atom namespace the feed already has."""


class AtomLinksEntryExtension:
    """Writes an entry's atom:link elements with every attribute.

    feedgen 1.0.0 writes entry links with `href` only: it reuses the loop variable holding the
    link's data for the new element, so `rel`, `type`, `length` and `title` are read from the
    empty element and dropped (lkiesow/python-feedgen#135). Enclosures would become alternates.
    """

    def __init__(self) -> None:
        self._links: list[AtomLink] = []

    def add(self, link: AtomLink) -> None:
        self._links.append(link)

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        for link in self._links:
            # No namespace, like feedgen's own entry children: the feed root's default
            # namespace declaration makes them atom:link.
            element = etree.SubElement(entry, "link", href=link.href, rel=link.rel)
            element.set("type", link.type)
            if link.title is not None:
                element.set("title", link.title)
            if link.length is not None:
                element.set("length", str(link.length))
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        return item


class RssUpdatedExtension(_FeedLevel):
    """Nothing to declare: feedgen already binds the `atom` prefix on every RSS document."""


class RssUpdatedEntryExtension:
    """Writes `atom:updated` in an RSS item, which has no element of its own for a correction.

    RSS only has pubDate; without this a reader of the RSS feed cannot tell a corrected alert
    from an untouched one. feedparser and most readers map it to the item's updated time.
    """

    def __init__(self) -> None:
        self._updated: datetime | None = None

    def updated(self, updated: datetime | None = None) -> datetime | None:
        if updated is not None:
            self._updated = updated
        return self._updated

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        if self._updated is not None:
            _add(item, ATOM_NS, "updated", self._updated.isoformat())
        return item
