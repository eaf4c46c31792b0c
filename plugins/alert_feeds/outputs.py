"""Write every feed, the OPML lists, the feed stylesheet and /subscribe/ during a build."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from alerts.index import LATEST
from alerts.model import Alert
from alerts.pages import PagePlan

from .atom_rss import render_atom, render_rss
from .context import FeedContext
from .jsonfeed import render_json
from .membership import feed_entries
from .opml import SUBSCRIPTIONS_PATH, XSL_PATH, render_opml, render_xsl, sector_opml_path
from .scopes import FORMATS, FeedFormat, FeedScope, all_scopes

_RENDERERS = {
    FeedFormat.ATOM: render_atom,
    FeedFormat.RSS: render_rss,
    FeedFormat.JSON: render_json,
}


def write_feeds(generator: Any) -> None:
    """Receiver of alerts.events.write_outputs: emit feeds through the generator's writer."""
    loaded = generator.loaded
    settings = generator.cascade
    collection = loaded.collection
    registry = loaded.registry
    context = FeedContext(
        settings=settings,
        sectors=registry.sectors,
        sources=registry.sources,
        provenance=generator.provenance,
        alerts=collection.by_id,
        fragments=generator.fragments,
        salt=generator.build_key,
    )
    feed_settings = (
        settings.public_url,
        settings.tag_authority,
        settings.tag_start,
        settings.site_name,
    )
    scopes = all_scopes(list(registry.sectors.values()))
    every_entries = feed_entries(
        collection.alerts,
        scopes,
        generator.now,
        settings.feed_min_items,
        settings.feed_retention_days,
        None if collection.slims is None else [slim[LATEST] for slim in collection.slims],
    )
    # An alert sits in dozens of feeds: its token is worked out once, then looked up by id.
    tokens: dict[str, str] = {}
    for entries in every_entries:
        for alert in entries:
            if alert.id not in tokens:
                tokens[alert.id] = context.entry_token(alert)
    for scope, entries in zip(scopes, every_entries, strict=True):
        parts = (feed_settings, _scope_key(scope), _entries_digest(entries, tokens))
        for fmt in FORMATS:
            generator.emit(
                scope.feed_path(fmt),
                ("feed", fmt.value, parts),
                _renderer(fmt, scope, entries, context),
            )

    env = generator.env
    # Every scope's name, title and description, digested once for each output that lists them.
    scope_keys = hashlib.sha256(repr(tuple(map(_scope_key, scopes))).encode()).hexdigest()
    generator.emit(XSL_PATH, ("xsl", feed_settings), lambda: render_xsl(env, context))
    generator.emit(
        SUBSCRIPTIONS_PATH,
        ("opml", feed_settings, scope_keys),
        lambda: render_opml(env, scopes, context),
    )
    for slug in registry.sectors:
        generator.emit(
            sector_opml_path(slug),
            ("opml", feed_settings, slug, scope_keys),
            _sector_opml(env, scopes, context, slug),
        )
    generator.emit_page(
        PagePlan(
            "subscribe/index.html",
            "subscribe.html",
            ("subscribe", scope_keys),
            lambda: {
                "groups": _groups(scopes),
                "public_url": settings.public_url,
                "page_scope": "all",
            },
        )
    )


def _entries_digest(entries: list[Alert], tokens: Mapping[str, str]) -> str:
    """What a feed's entries show, in order, as one value for its output key."""
    # Tokens are repr()s, which escape newlines, so joined they cannot run into each other.
    joined = "\n".join([tokens[alert.id] for alert in entries])
    return hashlib.sha256(joined.encode()).hexdigest()


def _scope_key(scope: FeedScope) -> tuple[str, str, str]:
    """A scope as part of an output key. Not repr(scope): a frozenset's order changes from
    one process to the next (string hashing is salted), and keys must not."""
    return (scope.key, scope.title, scope.description)


def _renderer(fmt: FeedFormat, scope: FeedScope, entries: list[Alert], context: FeedContext) -> Any:
    render = _RENDERERS[fmt]
    return lambda: render(scope, entries, context)


def _sector_opml(env: Any, scopes: list[FeedScope], context: FeedContext, slug: str) -> Any:
    return lambda: render_opml(env, scopes, context, only_sector=slug)


def _groups(scopes: list[FeedScope]) -> list[tuple[str | None, list[FeedScope]]]:
    """Scopes grouped by sector, in order: the site-wide feeds first."""
    groups: dict[str | None, list[FeedScope]] = {}
    for scope in scopes:
        groups.setdefault(scope.sector, []).append(scope)
    return list(groups.items())
