"""Render one feed scope as Atom 1.0 or RSS 2.0 bytes, with feedgen and our extensions.

Atom and RSS are built by separate FeedGenerator instances, each told only what its format
needs, so no feedgen cross-format shortcut (content vs description, last link wins, last
enclosure wins) can leak from one format into the other.

RSS items carry the summary as `description` and the full body as `content:encoded`. Readers
that understand content:encoded (Feedly, Inoreader, NetNewsWire, Thunderbird, Outlook) show the
full alert; email digests and minimal readers that only read `description` show a complete,
plain sentence rather than a cut-off body. The summary is HTML-escaped before it goes in,
because `description` is entity-encoded HTML: a literal "<valve>" must not become a tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from functools import partial
from html import escape
from operator import itemgetter, methodcaller
from typing import Any

from feedgen.feed import FeedGenerator
from lxml import etree

from alerts.errors import BuildError
from alerts.model import Alert

from .context import FeedContext, FeedEntries
from .extension import (
    ATOM_LINKS,
    CASCADE,
    RSS_UPDATED,
    THREAD,
    AtomLink,
    AtomLinksEntryExtension,
    AtomLinksExtension,
    CascadeEntryExtension,
    CascadeExtension,
    RssUpdatedEntryExtension,
    RssUpdatedExtension,
    ThreadEntryExtension,
    ThreadExtension,
)
from .html import xml_safe
from .namespaces import ATOM_NS
from .scopes import FeedFormat, FeedScope

# Site-relative, so a browser viewing a feed on our own origin can style it.
XSL_HREF = "/feeds/feed.xsl"

# feedgen has no way to add a processing instruction, so we write the whole prologue ourselves
# and ask feedgen for the document element only.
_PROLOGUE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<?xml-stylesheet type="text/xsl" href="' + XSL_HREF.encode("ascii") + b'"?>\n'
)

GENERATOR = "Cascade"


def feed_updated(entries: Sequence[Alert] | FeedEntries, ctx: FeedContext) -> datetime:
    """The newest entry's `updated`, never the build time; an empty feed says tag_start 00:00Z."""
    return ctx.entries(entries).updated(ctx)


def render_atom(
    scope: FeedScope, entries: Sequence[Alert] | FeedEntries, ctx: FeedContext
) -> bytes:
    """The scope's Atom 1.0 document; alerts are sorted newest first here.

    The feed-level elements come from feedgen, and so does each entry, rendered once in a
    one-entry feed and kept in the fragment store already indented for its place: an alert
    sits in dozens of feeds, and a new alert must not make every one of them render, parse
    or indent all its entries again (nor make their Alerts).
    """
    feed = ctx.entries(entries)
    fg = _feed(scope, feed.updated(ctx), ctx, FeedFormat.ATOM)
    _atom_extensions(fg)
    root = etree.fromstring(fg.atom_str(pretty=False, xml_declaration=False, encoding="UTF-8"))
    pieces = ctx.fragments_of("atom", feed, partial(_atom_entry, ctx=ctx))
    return _splice(root, pieces, _ATOM_ENTRY_INDENT, _ATOM_END)


def render_rss(scope: FeedScope, entries: Sequence[Alert] | FeedEntries, ctx: FeedContext) -> bytes:
    """The scope's RSS 2.0 document; alerts are sorted newest first here."""
    feed = ctx.entries(entries)
    fg = _feed(scope, feed.updated(ctx), ctx, FeedFormat.RSS)
    _rss_extensions(fg)
    root = etree.fromstring(fg.rss_str(pretty=False, xml_declaration=False, encoding="UTF-8"))
    pieces = ctx.fragments_of("rss", feed, partial(_rss_item, ctx=ctx))
    return _splice(root, pieces, _RSS_ITEM_INDENT, _RSS_END)


# What etree.indent(space="  ") puts before an entry (a child of <feed>) or an item (a child of
# <channel>), and what closes the document after the last one.
_ATOM_ENTRY_INDENT = b"\n  "
_ATOM_END = b"\n</feed>"
_RSS_ITEM_INDENT = b"\n    "
_RSS_END = b"\n  </channel>\n</rss>"


def _splice(root: Any, pieces: Sequence[bytes], indent: bytes, end: bytes) -> bytes:
    """The document, with each stored entry written in where lxml would have put it.

    The result is byte for byte what appending every entry to `root`, then cleaning up
    namespaces, indenting and serialising would give, at a fraction of the cost. Cleaning up
    drops a root namespace declaration no element uses, so those the entries use are kept.
    """
    # (prefixes, "\n", body) of each piece; C loops, as a feed holds hundreds of entries.
    parted = list(map(methodcaller("partition", b"\n"), pieces))
    used = set(b" ".join(map(itemgetter(0), parted)).decode("ascii").split())
    etree.cleanup_namespaces(root, keep_ns_prefixes=sorted(used))
    etree.indent(root, space="  ")
    head = bytes(etree.tostring(root, encoding="UTF-8"))
    if not head.endswith(end):
        raise BuildError(f"feed document does not end as expected: {head[-40:]!r}")
    entries = b"".join(map(indent.__add__, map(itemgetter(2), parted)))
    return _PROLOGUE + head[: -len(end)] + entries + end + b"\n"


def _stored_entry(document: bytes, path: str, end: bytes) -> bytes:
    """The last entry of a one-entry feed as it will appear in any feed: the namespace
    prefixes it uses on a first line, then its bytes, indented for its depth in a feed.

    The bytes are cut from the whole document, cleaned up and indented as `_splice` does,
    because lxml serialises an element on its own with its ancestors' namespace declarations
    added. The entry starts where the document without it reaches the closing tags.
    """
    root = etree.fromstring(document)
    entry = root.find(path)
    if entry is None or entry.getnext() is not None:
        raise BuildError(f"a one-entry feed has no {path} as its last element")
    etree.cleanup_namespaces(root)
    etree.indent(root, space="  ")
    whole = bytes(etree.tostring(root, encoding="UTF-8"))
    prefixes = " ".join(sorted(_prefixes(entry))).encode("ascii")
    entry.getparent().remove(entry)  # with its tail: the closing tags' indentation
    without = bytes(etree.tostring(root, encoding="UTF-8"))
    closing = end.lstrip()
    start = len(without) - len(closing)
    if not (whole.endswith(end) and without.endswith(closing) and whole[:start] == without[:start]):
        raise BuildError("a one-entry feed did not serialise as expected")
    return prefixes + b"\n" + whole[start : len(whole) - len(end)]


def _prefixes(element: Any) -> set[str]:
    """Every namespace prefix the element and its descendants use, in names or attributes."""
    used: set[str] = set()
    for node in element.iter():
        if node.prefix:
            used.add(node.prefix)
        for name in node.attrib:
            if name.startswith("{"):
                uri = name[1 : name.index("}")]
                used.update(p for p, u in node.nsmap.items() if u == uri and p)
    return used


def _atom_extensions(fg: Any) -> None:
    fg.register_extension(THREAD, ThreadExtension, ThreadEntryExtension, atom=True, rss=False)
    fg.register_extension(
        ATOM_LINKS, AtomLinksExtension, AtomLinksEntryExtension, atom=True, rss=False
    )


def _rss_extensions(fg: Any) -> None:
    # RSS <author> must be an email address, which sources lack: dc:creator takes a name.
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension(
        RSS_UPDATED, RssUpdatedExtension, RssUpdatedEntryExtension, atom=False, rss=True
    )


def _entry_only(ctx: FeedContext) -> Any:
    """A throwaway feed to render one entry in; its own fields are never published."""
    fg = FeedGenerator()
    fg.register_extension(CASCADE, CascadeExtension, CascadeEntryExtension)
    fg.id(ctx.feed_id("entry"))
    fg.title("entry")
    fg.description("entry")
    fg.link(href=ctx.url("/"), rel="alternate")
    fg.updated(datetime.combine(ctx.settings.tag_start, time(0, 0), tzinfo=UTC))
    return fg


def _atom_entry(alert: Alert, ctx: FeedContext) -> bytes:
    """One alert as a stored Atom entry (see `_stored_entry`)."""
    return _stored_entry(_atom_entry_feed(alert, ctx), f"{{{ATOM_NS}}}entry", _ATOM_END)


def _rss_item(alert: Alert, ctx: FeedContext) -> bytes:
    """One alert as a stored RSS item (see `_stored_entry`)."""
    return _stored_entry(_rss_item_feed(alert, ctx), "channel/item", _RSS_END)


def _atom_entry_feed(alert: Alert, ctx: FeedContext) -> bytes:
    """A throwaway Atom feed holding only the alert's entry."""
    fg = _entry_only(ctx)
    _atom_extensions(fg)
    entry = _entry(fg, alert, ctx, labels=True)
    entry.author([_author(source.name, source.url) for source in ctx.source_list(alert)])
    # Set content() after everything else that touches text: a later description() would
    # replace it and drop type="html".
    entry.summary(ctx.summary_text(alert))
    entry.content(ctx.content_html(alert), type="html")
    links: AtomLinksEntryExtension = getattr(entry, ATOM_LINKS)
    links.add(AtomLink(href=ctx.alert_url(alert.id), rel="alternate", type="text/html"))
    for attachment in alert.attachments:
        links.add(
            AtomLink(
                href=ctx.attachment_url(attachment.name),
                rel="enclosure",
                type=attachment.media_type,
                title=xml_safe(attachment.name),
                length=attachment.size,
            )
        )
    parent = ctx.metadata(alert).updates
    if parent is not None:
        thread: ThreadEntryExtension = getattr(entry, THREAD)
        thread.in_reply_to(parent)
    return bytes(fg.atom_str(pretty=False, xml_declaration=False))


def _rss_item_feed(alert: Alert, ctx: FeedContext) -> bytes:
    """A throwaway RSS feed holding only the alert's item."""
    fg = _entry_only(ctx)
    _rss_extensions(fg)
    entry = _entry(fg, alert, ctx, labels=False)
    entry.link(href=ctx.alert_url(alert.id), rel="alternate")
    updated: RssUpdatedEntryExtension = getattr(entry, RSS_UPDATED)
    updated.updated(alert.updated)
    entry.dc.dc_creator([source.name for source in ctx.source_list(alert)])
    entry.description(escape(ctx.summary_text(alert), quote=False))
    entry.content(ctx.content_html(alert))
    if alert.attachments:
        # RSS allows one enclosure per item: the first; content_html lists them all.
        first = alert.attachments[0]
        entry.enclosure(ctx.attachment_url(first.name), str(first.size), first.media_type)
    return bytes(fg.rss_str(pretty=False, xml_declaration=False))


def _author(name: str, url: str | None) -> dict[str, str]:
    return {"name": name} if url is None else {"name": name, "uri": url}


def _feed(scope: FeedScope, updated: datetime, ctx: FeedContext, fmt: FeedFormat) -> Any:
    """A FeedGenerator with the channel-level fields both formats share."""
    fg = FeedGenerator()
    fg.register_extension(CASCADE, CascadeExtension, CascadeEntryExtension)
    fg.id(ctx.feed_id(scope.key))
    fg.title(xml_safe(f"{ctx.settings.site_name}: {scope.title}"))
    fg.subtitle(xml_safe(scope.description))
    fg.updated(updated)
    fg.author(name=xml_safe(ctx.settings.site_name), uri=ctx.url("/"))
    fg.generator(GENERATOR)
    fg.link(href=ctx.url(scope.feed_path(fmt)), rel="self", type=fmt.media_type)
    # The last link() becomes the RSS channel <link>: it must be the HTML page, not the feed.
    fg.link(href=ctx.url(scope.page_path), rel="alternate", type="text/html")
    return fg


def _entry(fg: Any, alert: Alert, ctx: FeedContext, labels: bool) -> Any:
    """An entry with the fields both formats share, appended in the caller's order.

    RSS categories are plain text, which feedgen fills from the label when there is one;
    feed consumers filter on them, so RSS gets the stable slug (`labels=False`).
    """
    entry = fg.add_entry(order="append")
    entry.id(ctx.entry_id(alert))  # also the RSS guid, isPermaLink="false"; never call guid()
    entry.title(ctx.entry_title(alert))
    entry.published(alert.issued)
    entry.updated(alert.updated)
    entry.category(
        [
            {"term": c.term, "scheme": c.scheme}
            if c.label is None or not labels
            else {"term": c.term, "scheme": c.scheme, "label": c.label}
            for c in ctx.categories(alert)
        ]
    )
    cascade: CascadeEntryExtension = getattr(entry, CASCADE)
    cascade.metadata(ctx.metadata(alert))
    return entry
