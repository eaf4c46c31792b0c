"""Render one feed scope as JSON Feed 1.1 bytes, with Cascade's `_cascade` item extension."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from alerts.model import Alert

from .context import FeedContext, FeedEntries
from .html import xml_safe
from .namespaces import CASCADE_NS
from .scopes import FeedFormat, FeedScope

if TYPE_CHECKING:
    from .entry import EntryMetadata

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def render_json(
    scope: FeedScope, entries: Sequence[Alert] | FeedEntries, ctx: FeedContext
) -> bytes:
    """The scope's JSON Feed, UTF-8, keys in a fixed order, compact, final newline.

    Compact because json.dumps falls back to its pure-Python encoder whenever it indents,
    and feeds are written by the hundred on every build.
    """
    shown = ctx.entries(entries)
    feed_url = ctx.url(scope.feed_path(FeedFormat.JSON))
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": xml_safe(f"{ctx.settings.site_name}: {scope.title}"),
        "home_page_url": ctx.url(scope.page_path),
        "feed_url": feed_url,
        "description": xml_safe(scope.description),
        "user_comment": (
            "This is a web feed of safety alerts. To follow it, copy this address into a "
            f"feed reader or an email-alert service: {feed_url}"
        ),
        "authors": [{"name": xml_safe(ctx.settings.site_name), "url": ctx.url("/")}],
    }
    # Titles and bodies carry no XML-illegal characters either (xml_safe), so every format
    # says exactly the same thing. Items come from the fragment store, as in Atom and RSS;
    # "items" is the last key, so it is spliced in before the closing brace.
    head = _dumps(feed)[:-1]
    items = b",".join(ctx.fragments_of("json", shown, partial(_item_json, ctx=ctx)))
    return head + b',"items":[' + items + b"]}\n"


def _item_json(alert: Alert, ctx: FeedContext) -> bytes:
    return _dumps(_item(alert, ctx))


def _dumps(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _item(alert: Alert, ctx: FeedContext) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": ctx.entry_id(alert),
        "url": ctx.alert_url(alert.id),
        "title": ctx.entry_title(alert),
        "content_html": ctx.content_html(alert),
        "summary": ctx.summary_text(alert),
        "date_published": alert.issued.isoformat(),
        "date_modified": alert.updated.isoformat(),
        "authors": [
            {"name": source.name}
            if source.url is None
            else {"name": source.name, "url": source.url}
            for source in ctx.source_list(alert)
        ],
        "tags": [category.term for category in ctx.categories(alert)],
    }
    if alert.attachments:
        item["attachments"] = [
            {
                "url": ctx.attachment_url(attachment.name),
                "mime_type": attachment.media_type,
                "title": xml_safe(attachment.name),
                "size_in_bytes": attachment.size,
            }
            for attachment in alert.attachments
        ]
    item["_cascade"] = _extension(ctx.metadata(alert))
    return item


def _extension(meta: EntryMetadata) -> dict[str, Any]:
    """The same facts as the `cascade:*` XML elements; unknown values are null, never absent."""
    provenance = meta.provenance
    return {
        "about": CASCADE_NS,
        "level": meta.level,
        "sectors": list(meta.sectors),
        "source": list(meta.sources),
        "updates": (
            None if meta.updates is None else {"id": meta.updates.ref, "url": meta.updates.href}
        ),
        "expires": None if meta.expires is None else meta.expires.isoformat(),
        "status": meta.status,
        "commit": None if provenance is None else provenance.commit,
        "signer": (
            None
            if provenance is None
            else {"fingerprint": provenance.signer_fingerprint, "name": provenance.signer_name}
        ),
    }
