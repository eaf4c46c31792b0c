"""Every rendered feed is valid for its format and keeps our own rules schemas cannot check."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from lxml import etree

from alert_feeds.atom_rss import feed_updated, render_atom, render_rss
from alert_feeds.context import FeedContext
from alert_feeds.jsonfeed import render_json
from alert_feeds.namespaces import CASCADE_NS, THREAD_NS
from alert_feeds.scopes import FeedFormat, all_scopes, everything_scope
from alerts.errors import BuildError

ATOM = "http://www.w3.org/2005/Atom"
NS = {
    "a": ATOM,
    "c": CASCADE_NS,
    "thr": THREAD_NS,
    "content": "http://purl.org/rss/1.0/modules/content/",
}
PROLOGUE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<?xml-stylesheet type="text/xsl" href="/feeds/feed.xsl"?>\n'
)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
RFC822 = re.compile(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$")
# A strict parser: no entity resolution, no DTD, no recovery.
PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, recover=False)


def parse(data: bytes) -> Any:
    return etree.fromstring(data, PARSER)


@pytest.fixture(scope="session")
def atom_schema(schemas: Path) -> Any:
    return etree.RelaxNG(etree.parse(str(schemas / "atom.rng")))


@pytest.fixture(scope="session")
def rss_schema(schemas: Path) -> Any:
    return etree.XMLSchema(etree.parse(str(schemas / "rss-2_0.xsd")))


@pytest.fixture(scope="session")
def json_validator(schemas: Path) -> Draft7Validator:
    schema = json.loads((schemas / "jsonfeed-schema-v1.1.json").read_text(encoding="utf-8"))
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


# Validity


def test_every_scope_and_format_is_rendered(rendered, sectors):
    assert len(rendered) == 3 * len(all_scopes(sectors))
    paths = [feed.scope.feed_path(feed.fmt) for feed in rendered]
    assert len(set(paths)) == len(paths)


def test_some_feeds_are_empty_and_some_full(rendered):
    # The suite must cover both; an empty feed is a real case (a quiet sector).
    assert any(not feed.entries for feed in rendered)
    assert any(len(feed.entries) >= 4 for feed in rendered)


def test_atom_validates_against_rfc4287_schema(atom_feeds, atom_schema):
    for feed in atom_feeds:
        doc = parse(feed.data)
        assert atom_schema.validate(doc), (feed.scope.key, atom_schema.error_log)


def test_rss_validates_against_smoke_schema(rss_feeds, rss_schema):
    checked = 0
    for feed in rss_feeds:
        if not feed.entries:
            # The community XSD wrongly requires an item (schemas/README.md); the RSS rules
            # below still run on empty feeds.
            continue
        assert rss_schema.validate(parse(feed.data)), (feed.scope.key, rss_schema.error_log)
        checked += 1
    assert checked > 0


def test_json_feed_validates_against_schema(json_feeds, json_validator):
    for feed in json_feeds:
        errors = list(json_validator.iter_errors(json.loads(feed.data)))
        assert errors == [], (feed.scope.key, [e.message for e in errors])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date_published", "30/03/2026 12:00"),
        ("date_published", "2026-03-30T12:00:00"),  # no offset
        ("url", "not a uri"),
        ("url", "/alerts/relative/"),
    ],
)
def test_json_format_checkers_are_active(json_validator, field, value):
    # Without rfc3339-validator / rfc3986-validator these formats pass silently.
    item = {"id": "x", "content_html": "<p>x</p>", field: value}
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [item]}
    errors = list(json_validator.iter_errors(feed))
    assert [e.validator for e in errors] == ["format"]


# Shared XML rules


def test_xml_starts_with_declaration_then_stylesheet(rendered):
    for feed in rendered:
        if feed.fmt is not FeedFormat.JSON:
            assert feed.data.startswith(PROLOGUE), feed.scope.key


def test_no_doctype_anywhere(rendered):
    for feed in rendered:
        assert b"<!DOCTYPE" not in feed.data.upper()


def test_output_is_byte_identical_on_rerender(alerts, make_context, render_all, rendered):
    again = render_all(list(reversed(alerts)), make_context(list(reversed(alerts))))
    assert [feed.data for feed in again] == [feed.data for feed in rendered]


def test_output_does_not_depend_on_the_clock(alerts, ctx, monkeypatch):
    scope = everything_scope()
    first = [render(scope, alerts, ctx) for render in (render_atom, render_rss, render_json)]

    class AnyDatetime(type):
        # feedgen checks isinstance(value, datetime) against the name we replace.
        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, datetime)

    class FrozenLater(datetime, metaclass=AnyDatetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime(2099, 1, 1, tzinfo=tz or UTC)

    monkeypatch.setattr("feedgen.feed.datetime", FrozenLater)
    monkeypatch.setattr("feedgen.entry.datetime", FrozenLater)
    from feedgen.feed import FeedGenerator

    assert FeedGenerator().updated().year == 2099  # the patch bites: feedgen's default moved
    second = [render(scope, alerts, ctx) for render in (render_atom, render_rss, render_json)]
    assert first == second
    assert all(b"2099" not in data for data in second)


# Atom


def test_atom_feed_metadata(atom_feeds, ctx):
    ids = set()
    for feed in atom_feeds:
        root = parse(feed.data)
        ids.add(root.findtext("a:id", namespaces=NS))
        assert (
            root.findtext("a:id", namespaces=NS)
            == f"tag:alerts.example.org,2012-07-27:/feeds/{feed.scope.key}"
        )
        self_link = root.find("a:link[@rel='self']", NS)
        assert self_link.get("href") == ctx.url(feed.scope.feed_path("atom"))
        assert self_link.get("type") == "application/atom+xml"
        alternate = root.find("a:link[@rel='alternate']", NS)
        assert alternate.get("href") == ctx.url(feed.scope.page_path)
    assert len(ids) == len(atom_feeds), "every feed has its own id"


def test_atom_entries(atom_feeds, ctx):
    for feed in atom_feeds:
        root = parse(feed.data)
        entries = root.findall("a:entry", NS)
        assert [e.findtext("a:id", namespaces=NS) for e in entries] == [
            ctx.entry_id(alert) for alert in feed.entries
        ]
        for element, alert in zip(entries, feed.entries, strict=True):
            assert element.findtext("a:title", namespaces=NS) == ctx.entry_title(alert)
            assert element.find("a:title", NS).get("type") in (None, "text")
            content = element.find("a:content", NS)
            assert content.get("type") == "html"
            for date in ("a:published", "a:updated"):
                assert RFC3339.match(element.findtext(date, namespaces=NS))
            assert (
                datetime.fromisoformat(element.findtext("a:published", namespaces=NS))
                == alert.issued
            )
            assert (
                datetime.fromisoformat(element.findtext("a:updated", namespaces=NS))
                == alert.updated
            )
            links = element.findall("a:link", NS)
            assert [
                (link.get("rel"), link.get("href"))
                for link in links
                if link.get("rel") == "alternate"
            ] == [("alternate", ctx.alert_url(alert.id))]
            enclosures = [link for link in links if link.get("rel") == "enclosure"]
            assert [
                (link.get("href"), link.get("length"), link.get("type"), link.get("title"))
                for link in enclosures
            ] == [
                (ctx.attachment_url(a.name), str(a.size), a.media_type, a.name)
                for a in alert.attachments
            ]
            authors = [a.findtext("a:name", namespaces=NS) for a in element.findall("a:author", NS)]
            assert authors == [ctx.sources[slug].name for slug in alert.sources]


def test_atom_categories(atom_feeds, ctx):
    feed = next(f for f in atom_feeds if f.scope.key == "all")
    root = parse(feed.data)
    for element, alert in zip(root.findall("a:entry", NS), feed.entries, strict=True):
        found = [
            (c.get("scheme"), c.get("term"), c.get("label"))
            for c in element.findall("a:category", NS)
        ]
        expected = [(ctx.url("/levels/"), alert.level.value, alert.level.label)]
        expected += [(ctx.url("/sectors/"), s, ctx.sector_label(s)) for s in alert.sectors]
        expected += [(ctx.url("/topics/"), t, None) for t in alert.topics]
        assert found == expected


def test_feed_updated_is_newest_entry_updated(rendered):
    for feed in rendered:
        if feed.fmt is FeedFormat.JSON:
            continue
        root = parse(feed.data)
        if feed.fmt is FeedFormat.ATOM:
            stamp = datetime.fromisoformat(root.findtext("a:updated", namespaces=NS))
        else:
            text = root.findtext("channel/lastBuildDate")
            assert RFC822.match(text)
            stamp = parsedate_to_datetime(text)
        if feed.entries:
            assert stamp == max(alert.updated for alert in feed.entries), feed.scope.key
        else:
            assert stamp == datetime(2012, 7, 27, tzinfo=UTC)


def test_feed_updated_counts_corrections(alerts, ctx):
    phishing = next(a for a in alerts if a.id == "phishing")
    assert feed_updated([phishing], ctx) == phishing.corrections[-1].at
    assert feed_updated(alerts, ctx) == phishing.corrections[-1].at  # the newest change


def test_empty_feed_says_tag_start_at_midnight_utc(ctx):
    data = render_atom(everything_scope(), [], ctx)
    assert b"<updated>2012-07-27T00:00:00+00:00</updated>" in data


def test_thread_links_update_to_parent(atom_feeds, ctx, alerts):
    parent = next(a for a in alerts if a.id == "gas-leak")
    feed = next(f for f in atom_feeds if f.scope.key == "all")
    root = parse(feed.data)
    replies = root.findall("a:entry/thr:in-reply-to", NS)
    assert len(replies) == 1
    reply = replies[0]
    assert reply.getparent().findtext("a:id", namespaces=NS).endswith("/alerts/gas-leak-update")
    assert (
        reply.get("ref")
        == ctx.entry_id(parent)
        == "tag:alerts.example.org,2026-03-28:/alerts/gas-leak"
    )
    assert reply.get("href") == ctx.alert_url("gas-leak")


def test_update_of_unknown_alert_is_a_build_error(make_alert, make_context):
    orphan = make_alert("orphan", updates="missing")
    with pytest.raises(BuildError, match="missing"):
        render_atom(everything_scope(), [orphan], make_context([orphan]))


# RSS


def test_rss_channel_rules(rss_feeds, ctx):
    for feed in rss_feeds:
        channel = parse(feed.data).find("channel")
        self_href = channel.find("a:link[@rel='self']", NS).get("href")
        assert self_href == ctx.url(feed.scope.feed_path("rss"))
        assert channel.findtext("link") == ctx.url(feed.scope.page_path)
        assert channel.findtext("link") != self_href
        assert channel.findtext("description")


def test_rss_item_rules(rss_feeds, ctx):
    for feed in rss_feeds:
        items = parse(feed.data).findall("channel/item")
        assert len(items) == len(feed.entries)
        for item, alert in zip(items, feed.entries, strict=True):
            guid = item.find("guid")
            assert guid.get("isPermaLink") == "false"
            assert guid.text == ctx.entry_id(alert)
            assert item.findtext("link") == ctx.alert_url(alert.id)
            assert RFC822.match(item.findtext("pubDate"))
            assert parsedate_to_datetime(item.findtext("pubDate")) == alert.issued
            assert (
                datetime.fromisoformat(item.findtext("a:updated", namespaces=NS)) == alert.updated
            )
            enclosures = item.findall("enclosure")
            if alert.attachments:
                first = alert.attachments[0]
                assert [(e.get("url"), e.get("length"), e.get("type")) for e in enclosures] == [
                    (ctx.attachment_url(first.name), str(first.size), first.media_type)
                ]
            else:
                assert enclosures == []
            content = item.findtext("content:encoded", namespaces=NS)
            for attachment in alert.attachments:
                assert ctx.attachment_url(attachment.name) in content


def test_rss_every_date_has_a_numeric_zone(rss_feeds):
    for feed in rss_feeds:
        root = parse(feed.data)
        for element in root.iter("pubDate", "lastBuildDate"):
            assert RFC822.match(element.text), element.text


# JSON Feed


def test_json_feed_shape(json_feeds, ctx):
    for feed in json_feeds:
        assert feed.data.endswith(b"}\n")
        doc = json.loads(feed.data)
        assert list(doc) == [
            "version",
            "title",
            "home_page_url",
            "feed_url",
            "description",
            "user_comment",
            "authors",
            "items",
        ]
        assert doc["feed_url"] == ctx.url(feed.scope.feed_path("json"))
        assert doc["home_page_url"] == ctx.url(feed.scope.page_path)
        assert [item["id"] for item in doc["items"]] == [ctx.entry_id(a) for a in feed.entries]


def test_json_items(json_feeds, ctx, alerts):
    feed = next(f for f in json_feeds if f.scope.key == "all")
    doc = json.loads(feed.data)
    by_id = {item["id"]: item for item in doc["items"]}
    for alert in alerts:
        item = by_id[ctx.entry_id(alert)]
        assert item["title"] == ctx.entry_title(alert)
        assert item["url"] == ctx.alert_url(alert.id)
        assert datetime.fromisoformat(item["date_published"]) == alert.issued
        assert datetime.fromisoformat(item["date_modified"]) == alert.updated
        assert item["summary"] == alert.summary
        assert list(item["_cascade"]) == [
            "about",
            "level",
            "sectors",
            "source",
            "updates",
            "expires",
            "status",
            "commit",
            "signer",
        ]
        extension = item["_cascade"]
        assert extension["level"] == alert.level.value
        assert extension["sectors"] == list(alert.sectors)
        assert extension["source"] == list(alert.sources)
        assert extension["status"] == alert.status.value
        if alert.attachments:
            assert item["attachments"] == [
                {
                    "url": ctx.attachment_url(a.name),
                    "mime_type": a.media_type,
                    "title": a.name,
                    "size_in_bytes": a.size,
                }
                for a in alert.attachments
            ]
        else:
            assert "attachments" not in item
    update = by_id[ctx.entry_id(next(a for a in alerts if a.id == "gas-leak-update"))]
    assert update["_cascade"]["updates"] == {
        "id": "tag:alerts.example.org,2026-03-28:/alerts/gas-leak",
        "url": "https://alerts.example.org/alerts/gas-leak/",
    }
    phishing = by_id[ctx.entry_id(next(a for a in alerts if a.id == "phishing"))]
    assert phishing["_cascade"]["commit"] == "4f2a9c1e" * 5
    assert phishing["_cascade"]["signer"] == {
        "fingerprint": "ED25519:ABCD1234EF567890",
        "name": "Duty Inspector O'Neil",
    }
    robbery = by_id[ctx.entry_id(next(a for a in alerts if a.id == "armed-robbery"))]
    assert robbery["_cascade"]["expires"] == "2026-04-01T06:00:00+01:00"
    assert robbery["_cascade"]["commit"] is robbery["_cascade"]["signer"] is None


def test_json_keeps_non_latin_text_unescaped(json_feeds):
    feed = next(f for f in json_feeds if f.scope.key == "all")
    assert "گیس کا اخراج".encode() in feed.data
    assert b"\\u" not in feed.data


# Across formats


def test_entry_ids_are_identical_across_formats_and_feeds(rendered, ctx):
    ids_by_alert: dict[str, set[str]] = {}
    for feed in rendered:
        if feed.fmt is FeedFormat.JSON:
            found = [item["id"] for item in json.loads(feed.data)["items"]]
        elif feed.fmt is FeedFormat.ATOM:
            found = [e.text for e in parse(feed.data).findall("a:entry/a:id", NS)]
        else:
            found = [g.text for g in parse(feed.data).findall("channel/item/guid")]
        assert len(found) == len(feed.entries)
        for alert, entry_id in zip(feed.entries, found, strict=True):
            ids_by_alert.setdefault(alert.id, set()).add(entry_id)
    assert all(len(ids) == 1 for ids in ids_by_alert.values()), ids_by_alert
    assert ids_by_alert["gas-leak-update"] == {
        "tag:alerts.example.org,2026-03-30:/alerts/gas-leak-update"
    }


def test_extension_elements_in_atom_and_rss(rendered, ctx):
    for feed in rendered:
        if feed.fmt is FeedFormat.JSON:
            continue
        root = parse(feed.data)
        entries = (
            root.findall("a:entry", NS)
            if feed.fmt is FeedFormat.ATOM
            else root.findall("channel/item")
        )
        for element, alert in zip(entries, feed.entries, strict=True):
            assert element.findtext("c:level", namespaces=NS) == alert.level.value
            assert [s.text for s in element.findall("c:sector", NS)] == list(alert.sectors)
            assert [s.text for s in element.findall("c:source", NS)] == list(alert.sources)
            assert element.findtext("c:status", namespaces=NS) == alert.status.value
            expires = element.findtext("c:expires", namespaces=NS)
            assert (expires and datetime.fromisoformat(expires)) == (alert.expires or None)
            provenance = ctx.provenance.get(alert.id)
            assert element.findtext("c:commit", namespaces=NS) == (provenance and provenance.commit)
            signer = element.find("c:signer", NS)
            if provenance is None:
                assert signer is None
            else:
                assert signer.text == provenance.signer_fingerprint
                assert signer.get("name") == provenance.signer_name


def test_content_links_are_absolute(rendered):
    href = re.compile(r'(?:href|src)="([^"]*)"')
    for feed in rendered:
        if feed.fmt is FeedFormat.JSON:
            bodies = [item["content_html"] for item in json.loads(feed.data)["items"]]
        elif feed.fmt is FeedFormat.ATOM:
            bodies = [c.text for c in parse(feed.data).findall("a:entry/a:content", NS)]
        else:
            bodies = [c.text for c in parse(feed.data).findall("channel/item/content:encoded", NS)]
        for body in bodies:
            for url in href.findall(body):
                assert url.startswith(("https://alerts.example.org/", "https://www.", "mailto:")), (
                    url
                )


def test_xml_illegal_characters_are_removed(make_alert, make_context, sectors):
    from alerts.model import Sector

    bad = make_alert(
        "bad-chars",
        title="Bad\x0b title\ufffe with \x00nul",
        summary="Sum\x1fmary \ud800",
        body_html="<p>Body\x0c text\uffff</p>",
        sectors=("odd",),
    )
    odd = Sector("odd", "Odd\x0b sector", "x")
    ctx = make_context([bad], [*sectors, odd])
    scope = next(s for s in all_scopes([*sectors, odd]) if s.key == "sectors/odd")
    for render in (render_atom, render_rss):
        root = parse(render(scope, [bad], ctx))
        text = etree.tostring(root, encoding="unicode")
        assert "Bad title with nul" in text
        assert "Odd sector" in text
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800]", text)
    doc = json.loads(render_json(scope, [bad], ctx))
    assert doc["items"][0]["title"] == "GREEN: Bad title with nul"
    assert doc["items"][0]["summary"] == "Summary "


def test_feed_context_urls(ctx: FeedContext, alerts):
    assert ctx.url("/levels/") == "https://alerts.example.org/levels/"
    assert ctx.url("feeds/all.json") == "https://alerts.example.org/feeds/all.json"
    assert ctx.alert_url("gas-leak") == "https://alerts.example.org/alerts/gas-leak/"
    assert (
        ctx.attachment_url("a b/ü.pdf") == "https://alerts.example.org/attachments/a%20b/%C3%BC.pdf"
    )
    assert (
        ctx.feed_id("sectors/retail/urgent")
        == "tag:alerts.example.org,2012-07-27:/feeds/sectors/retail/urgent"
    )


@pytest.mark.parametrize(
    ("alert_id", "expected"),
    [
        # Issued 12:00 GMT on the Saturday before the clocks change.
        ("gas-leak", "tag:alerts.example.org,2026-03-28:/alerts/gas-leak"),
        # Issued 00:30 GMT on the Sunday the clocks go forward (at 01:00 GMT).
        ("late-venue", "tag:alerts.example.org,2026-03-29:/alerts/late-venue"),
        # Issued 22:45 BST, which is 21:45 UTC: still the 31st either way.
        ("armed-robbery", "tag:alerts.example.org,2026-03-31:/alerts/armed-robbery"),
    ],
)
def test_entry_id_uses_the_issue_date_in_its_own_offset(ctx, alerts, alert_id, expected):
    assert ctx.entry_id(next(a for a in alerts if a.id == alert_id)) == expected


def test_entry_id_date_is_local_not_utc(make_alert, make_context):
    from datetime import timedelta, timezone

    # 00:30 BST on 1 April is 23:30 UTC on 31 March: the author's date is the 1st.
    alert = make_alert(
        "midnight", issued=datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    )
    assert (
        make_context([alert]).entry_id(alert)
        == "tag:alerts.example.org,2026-04-01:/alerts/midnight"
    )


def test_titles(ctx, alerts):
    titles = {a.id: ctx.entry_title(a) for a in alerts}
    assert titles["gas-leak"] == 'AMBER: Gas <valve> leak at "Market" Street & Co'
    assert titles["armed-robbery"] == "WITHDRAWN: RED: Armed robbery \u2014 two men seen"
