"""Atom and RSS documents spliced from stored entries are byte for byte what lxml would build
by appending every entry to the feed and serialising the whole tree."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from lxml import etree

from alert_feeds import atom_rss
from alert_feeds.context import FeedContext
from alert_feeds.scopes import FeedFormat, FeedScope, all_scopes, everything_scope
from alerts.fragments import FragmentStore
from alerts.model import Alert, Attachment, newest_first_key

_PROLOGUE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<?xml-stylesheet type="text/xsl" href="/feeds/feed.xsl"?>\n'
)
ATOM_ENTRY = f"{{{atom_rss.ATOM_NS}}}entry"


def whole_tree_atom(scope: FeedScope, entries: Sequence[Alert], ctx: FeedContext) -> bytes:
    """The Atom document built the slow, obvious way: every entry parsed into one tree."""
    ordered = sorted(entries, key=newest_first_key)
    fg = atom_rss._feed(scope, atom_rss.feed_updated(ordered, ctx), ctx, FeedFormat.ATOM)
    atom_rss._atom_extensions(fg)
    root = etree.fromstring(fg.atom_str(pretty=False, xml_declaration=False, encoding="UTF-8"))
    for alert in ordered:
        document = etree.fromstring(atom_rss._atom_entry_feed(alert, ctx))
        root.append(etree.fromstring(etree.tostring(document.find(ATOM_ENTRY))))
    return whole_tree(root)


def whole_tree_rss(scope: FeedScope, entries: Sequence[Alert], ctx: FeedContext) -> bytes:
    ordered = sorted(entries, key=newest_first_key)
    fg = atom_rss._feed(scope, atom_rss.feed_updated(ordered, ctx), ctx, FeedFormat.RSS)
    atom_rss._rss_extensions(fg)
    root = etree.fromstring(fg.rss_str(pretty=False, xml_declaration=False, encoding="UTF-8"))
    channel = root.find("channel")
    for alert in ordered:
        document = etree.fromstring(atom_rss._rss_item_feed(alert, ctx))
        channel.append(etree.fromstring(etree.tostring(document.find("channel/item"))))
    return whole_tree(root)


def whole_tree(root: etree._Element) -> bytes:
    etree.cleanup_namespaces(root)
    etree.indent(root, space="  ")
    return _PROLOGUE + bytes(etree.tostring(root, encoding="UTF-8")) + b"\n"


PAIRS: list[tuple[Callable[..., bytes], Callable[..., bytes]]] = [
    (atom_rss.render_atom, whole_tree_atom),
    (atom_rss.render_rss, whole_tree_rss),
]


@pytest.mark.parametrize(("render", "reference"), PAIRS)
def test_every_scope_of_the_sample(
    render: Callable[..., bytes],
    reference: Callable[..., bytes],
    alerts: list[Alert],
    ctx: FeedContext,
) -> None:
    ordered = sorted(alerts, key=newest_first_key)
    for scope in all_scopes(list(ctx.sectors.values())):
        members = [alert for alert in ordered if scope.includes(alert)]
        assert render(scope, members, ctx) == reference(scope, members, ctx), scope.key


@pytest.mark.parametrize(("render", "reference"), PAIRS)
def test_each_alert_alone_and_none(
    render: Callable[..., bytes],
    reference: Callable[..., bytes],
    alerts: list[Alert],
    ctx: FeedContext,
) -> None:
    # Alone, an entry decides which namespace declarations the root keeps (thr:, dc:, ...).
    scope = everything_scope()
    for subset in [[], *([alert] for alert in alerts)]:
        assert render(scope, subset, ctx) == reference(scope, subset, ctx)


@pytest.mark.parametrize(("render", "reference"), PAIRS)
def test_stored_entries_are_reused_across_feeds(
    render: Callable[..., bytes],
    reference: Callable[..., bytes],
    alerts: list[Alert],
    make_context: Callable[..., FeedContext],
) -> None:
    store = FragmentStore(None)
    ctx = replace(make_context(alerts), fragments=store)
    scope = everything_scope()
    first = render(scope, alerts, ctx)
    rendered = store.rendered
    assert rendered == len(alerts)
    # A different feed of the same entries renders none of them again, and still matches.
    assert render(scope, alerts[:2], ctx) == reference(scope, alerts[:2], ctx)
    assert store.rendered == rendered
    assert first == reference(scope, alerts, ctx)


@pytest.mark.parametrize(("render", "reference"), PAIRS)
def test_an_edited_alert_is_rendered_again(
    render: Callable[..., bytes],
    reference: Callable[..., bytes],
    alerts: list[Alert],
    make_context: Callable[..., FeedContext],
) -> None:
    store = FragmentStore(None)
    scope = everything_scope()
    render(scope, alerts, replace(make_context(alerts), fragments=store))
    edited = [
        replace(
            alert,
            title=alert.title + " (edited)",
            issued=alert.issued - timedelta(minutes=1),
            attachments=(*alert.attachments, Attachment("extra.pdf", 9, "application/pdf")),
        )
        for alert in alerts
    ]
    ctx = replace(make_context(edited), fragments=store)
    data = render(scope, edited, ctx)
    assert b"(edited)" in data and b"extra.pdf" in data
    assert data == reference(scope, edited, ctx)
