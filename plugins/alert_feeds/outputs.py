"""Write every feed, the OPML lists, the feed stylesheet and /subscribe/ during a build."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

from alerts.index import LATEST, SHA, UPDATES, Slim
from alerts.model import Alert
from alerts.pages import PagePlan

from .context import FeedContext, FeedEntries
from .jsonfeed import render_json
from .membership import feed_positions, records_of
from .opml import SUBSCRIPTIONS_PATH, XSL_PATH, render_opml, render_xsl, sector_opml_path
from .scopes import FORMATS, FeedFormat, FeedScope, all_scopes

if TYPE_CHECKING:
    from alerts.collection import AlertCollection


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
    records = collection.slims
    if records is None:
        # Only a collection made from Alerts (tests, tools) has no slim records.
        records = records_of(collection.alerts, registry.sectors)
    every_places = feed_positions(
        records, scopes, generator.now, settings.feed_min_items, settings.feed_retention_days
    )
    tokens = _tokens(every_places, collection, records, context)
    for scope, places in zip(scopes, every_places, strict=True):
        shown = list(map(tokens.__getitem__, places))
        parts = (feed_settings, _scope_key(scope), _entries_digest(shown))
        entries = _entries(places, shown, records, collection.alerts)
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


def _tokens(
    every_places: list[list[int]],
    collection: AlertCollection,
    records: Sequence[Slim],
    context: FeedContext,
) -> dict[int, str]:
    """Each entry's token, by position: an alert sits in dozens of feeds, so once each.

    From the slim records when the collection has them (a build's), so that no Alert is
    made for an entry whose feed is unchanged; else (or for an alert not read from a file)
    from the Alert."""
    tokens: dict[int, str] = {}
    alerts, by_id = collection.alerts, collection.by_id
    from_records = collection.slims is not None
    for place in dict.fromkeys(chain.from_iterable(every_places)):
        record = records[place]
        parent_id = record[UPDATES]
        parent = (
            records[collection.position(parent_id)]
            if from_records and parent_id is not None and parent_id in by_id
            else None
        )
        if from_records and record[SHA] and (parent is None or parent[SHA]):
            tokens[place] = context.record_token(record, collection.sizes, parent)
        else:
            tokens[place] = context.entry_token(alerts[place])
    return tokens


def _entries(
    places: list[int], tokens: list[str], records: Sequence[Slim], alerts: Sequence[Alert]
) -> Callable[[], FeedEntries]:
    """A feed's entries for its renderers, made only if one runs."""
    return lambda: FeedEntries(
        tokens=tokens,
        latest=[records[place][LATEST] for place in places],
        alert=lambda index: alerts[places[index]],
    )


def _entries_digest(tokens: list[str]) -> str:
    """What a feed's entries show, in order, as one value for its output key."""
    # Tokens are repr()s, which escape newlines, so joined they cannot run into each other.
    return hashlib.sha256("\n".join(tokens).encode()).hexdigest()


def _scope_key(scope: FeedScope) -> tuple[str, str, str]:
    """A scope as part of an output key. Not repr(scope): a frozenset's order changes from
    one process to the next (string hashing is salted), and keys must not."""
    return (scope.key, scope.title, scope.description)


def _renderer(
    fmt: FeedFormat, scope: FeedScope, entries: Callable[[], FeedEntries], context: FeedContext
) -> Callable[[], bytes]:
    def render() -> bytes:
        if fmt is FeedFormat.JSON:
            return render_json(scope, entries(), context)
        # feedgen and lxml take tens of milliseconds to import: a build that renders no
        # Atom or RSS feed (most do not) never imports them.
        from . import atom_rss

        if fmt is FeedFormat.ATOM:
            return atom_rss.render_atom(scope, entries(), context)
        return atom_rss.render_rss(scope, entries(), context)

    return render


def _sector_opml(env: Any, scopes: list[FeedScope], context: FeedContext, slug: str) -> Any:
    return lambda: render_opml(env, scopes, context, only_sector=slug)


def _groups(scopes: list[FeedScope]) -> list[tuple[str | None, list[FeedScope]]]:
    """Scopes grouped by sector, in order: the site-wide feeds first."""
    groups: dict[str | None, list[FeedScope]] = {}
    for scope in scopes:
        groups.setdefault(scope.sector, []).append(scope)
    return list(groups.items())
