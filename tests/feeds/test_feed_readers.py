"""What a feed reader (feedparser) recovers from our Atom and RSS, and a JSON client from JSON."""

from __future__ import annotations

import calendar
import json
from datetime import UTC, datetime
from html import unescape
from typing import Any

import feedparser
import pytest
from lxml import html as lxml_html

from alert_feeds.scopes import FeedFormat


def words(html: str) -> list[str]:
    """The visible words of an HTML fragment."""
    return lxml_html.fragment_fromstring(html, create_parent="div").text_content().split()


def instant(parsed: Any) -> datetime:
    """feedparser's UTC struct_time as an aware datetime."""
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


@pytest.fixture(scope="session")
def parsed(rendered) -> list[tuple[Any, Any]]:
    return [
        (feed, feedparser.parse(feed.data)) for feed in rendered if feed.fmt is not FeedFormat.JSON
    ]


def test_feedparser_reads_every_feed_cleanly(parsed):
    for feed, result in parsed:
        assert result.bozo == 0, (feed.scope.key, feed.fmt, result.get("bozo_exception"))
        expected = "atom10" if feed.fmt is FeedFormat.ATOM else "rss20"
        assert result.version == expected
        assert len(result.entries) == len(feed.entries)


def test_feedparser_feed_level(parsed, ctx):
    for feed, result in parsed:
        assert result.feed.title == f"Cascade alerts: {feed.scope.title}"
        assert result.feed.link == ctx.url(feed.scope.page_path)
        if feed.entries:
            newest = max(alert.updated for alert in feed.entries)
            assert instant(result.feed.updated_parsed) == newest


def test_feedparser_recovers_every_entry(parsed, ctx):
    for feed, result in parsed:
        for entry, alert in zip(result.entries, feed.entries, strict=True):
            where = (feed.scope.key, feed.fmt, alert.id)
            assert entry.id == ctx.entry_id(alert), where
            assert entry.title == ctx.entry_title(alert), where
            assert entry.link == ctx.alert_url(alert.id), where
            # Compared as instants: the thread straddles the change to BST on 29 March 2026.
            assert instant(entry.published_parsed) == alert.issued, where
            assert instant(entry.updated_parsed) == alert.updated, where
            assert entry.cascade_level == alert.level.value, where
            summary = entry.summary if feed.fmt is FeedFormat.ATOM else unescape(entry.summary)
            assert summary == alert.summary, where
            content = entry.content[0]
            assert content.type == "text/html", where
            found = set(words(content.value))
            missing = [word for word in words(alert.body_html) if word not in found]
            assert missing == [], where


def test_feedparser_recovers_level_and_sectors_from_categories(parsed, ctx):
    for feed, result in parsed:
        for entry, alert in zip(result.entries, feed.entries, strict=True):
            tags = [(tag.scheme, tag.term) for tag in entry.tags]
            level_scheme, sector_scheme = ctx.url("/levels/"), ctx.url("/sectors/")
            levels = [term for scheme, term in tags if scheme == level_scheme]
            sectors = [term for scheme, term in tags if scheme == sector_scheme]
            # Both formats carry the stable slugs that consumers filter on.
            assert levels == [alert.level.value], feed.fmt
            assert sectors == list(alert.sectors), feed.fmt


def test_feedparser_reads_authors_and_enclosures(parsed, ctx):
    for feed, result in parsed:
        for entry, alert in zip(result.entries, feed.entries, strict=True):
            names = [author.name for author in entry.authors]
            assert names == [ctx.sources[slug].name for slug in alert.sources]
            urls = [enclosure.href for enclosure in entry.enclosures]
            expected = [ctx.attachment_url(a.name) for a in alert.attachments]
            assert urls == (expected if feed.fmt is FeedFormat.ATOM else expected[:1])


def test_bst_thread_instants(parsed):
    # 12:00 GMT on the 28th and 12:00 BST on the 30th: 47 hours apart, not 48.
    _, result = next((f, r) for f, r in parsed if f.scope.key == "all" and f.fmt is FeedFormat.RSS)
    by_id = {entry.id.rsplit("/", 1)[1]: entry for entry in result.entries}
    first = instant(by_id["gas-leak"].published_parsed)
    second = instant(by_id["gas-leak-update"].published_parsed)
    assert first == datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert second == datetime(2026, 3, 30, 11, 0, tzinfo=UTC)
    assert (second - first).total_seconds() == 47 * 3600


def test_json_clients_recover_every_entry(json_feeds, ctx):
    for feed in json_feeds:
        items = json.loads(feed.data)["items"]
        for item, alert in zip(items, feed.entries, strict=True):
            assert item["title"] == ctx.entry_title(alert)
            assert datetime.fromisoformat(item["date_published"]).astimezone(UTC) == alert.issued
            assert datetime.fromisoformat(item["date_modified"]).astimezone(UTC) == alert.updated
            assert item["_cascade"]["level"] == alert.level.value
            assert item["_cascade"]["sectors"] == list(alert.sectors)
            found = set(words(item["content_html"]))
            assert [w for w in words(alert.body_html) if w not in found] == []
