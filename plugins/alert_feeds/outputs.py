"""Write every feed, the OPML lists, the feed stylesheet and /subscribe/ during a build."""

from __future__ import annotations

from typing import Any

from alerts.model import Alert
from alerts.pages import PagePlan

from .atom_rss import render_atom, render_rss
from .context import FeedContext
from .jsonfeed import render_json
from .opml import SUBSCRIPTIONS_PATH, XSL_PATH, render_opml, render_xsl, sector_opml_path
from .retention import select_entries
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
    by_sector = collection.sector_index(registry.sectors)
    for scope in scopes:
        # Narrow to the sector's own list first: checking every alert against every scope
        # would cost alerts x scopes on every build.
        pool = collection.alerts if scope.sector is None else by_sector[scope.sector]
        members = [alert for alert in pool if scope.includes(alert)]
        entries = select_entries(
            members, generator.now, settings.feed_min_items, settings.feed_retention_days
        )
        parts = (feed_settings, _scope_key(scope), _entry_keys(entries, context))
        for fmt in FORMATS:
            generator.emit(
                scope.feed_path(fmt),
                ("feed", fmt.value, parts),
                _renderer(fmt, scope, entries, context),
            )

    env = generator.env
    generator.emit(XSL_PATH, ("xsl", feed_settings), lambda: render_xsl(env, context))
    generator.emit(
        SUBSCRIPTIONS_PATH,
        ("opml", feed_settings, tuple(map(_scope_key, scopes))),
        lambda: render_opml(env, scopes, context),
    )
    for slug in registry.sectors:
        generator.emit(
            sector_opml_path(slug),
            ("opml", feed_settings, slug, tuple(map(_scope_key, scopes))),
            _sector_opml(env, scopes, context, slug),
        )
    generator.emit_page(
        PagePlan(
            "subscribe/index.html",
            "subscribe.html",
            ("subscribe", tuple(map(_scope_key, scopes))),
            lambda: {
                "groups": _groups(scopes),
                "public_url": settings.public_url,
                "page_scope": "all",
            },
        )
    )


def _entry_keys(entries: list[Alert], context: FeedContext) -> tuple[Any, ...]:
    """What an entry's text depends on: the file, its signer, and the alert it updates
    (an update names its parent's tag id, which carries the parent's issue date)."""
    keys = []
    for alert in entries:
        parent = context.alerts.get(alert.updates) if alert.updates else None
        keys.append(
            (
                alert.id,
                alert.content_hash,
                tuple(a.size for a in alert.attachments),
                context.provenance.get(alert.id),
                parent.issued.isoformat() if parent else None,
            )
        )
    return tuple(keys)


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
