"""OPML subscription lists and the feed stylesheet, rendered from the theme templates."""

from __future__ import annotations

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape
from lxml import etree

from alert_feeds.atom_rss import render_atom, render_rss
from alert_feeds.opml import OPML_FORMAT, render_opml, render_xsl, sector_opml_path
from alert_feeds.scopes import all_scopes

PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)


def environments(templates):
    """Pelican's own (autoescape off, trimmed blocks), a bare one, and an HTML-only one."""
    loader = FileSystemLoader(str(templates))
    return [
        Environment(loader=loader, trim_blocks=True, lstrip_blocks=True),
        Environment(loader=loader),
        Environment(loader=loader, autoescape=select_autoescape(["html"])),
    ]


@pytest.fixture(scope="module")
def env(templates):
    return environments(templates)[0]


@pytest.fixture(scope="module")
def scopes(sectors):
    return all_scopes(sectors)


def feed_outlines(data: bytes):
    root = etree.fromstring(data, PARSER)
    assert root.tag == "opml" and root.get("version") == "2.0"
    return root, root.findall(".//outline[@xmlUrl]")


def test_opml_lists_exactly_every_scope_feed(env, scopes, ctx):
    _, outlines = feed_outlines(render_opml(env, scopes, ctx, None))
    urls = [outline.get("xmlUrl") for outline in outlines]
    assert urls == [ctx.url(scope.feed_path(OPML_FORMAT)) for scope in scopes]
    assert all(outline.get("type") == "rss" and outline.get("text") for outline in outlines)
    assert [o.get("htmlUrl") for o in outlines] == [ctx.url(s.page_path) for s in scopes]


def test_opml_groups(env, scopes, ctx):
    root, _ = feed_outlines(render_opml(env, scopes, ctx, None))
    groups = root.findall("body/outline")
    assert [g.get("text") for g in groups] == [
        "Everything",
        "By level",
        "Retail",
        'Banks & "finance" <x>',
        "Night-time economy",
    ]
    assert [len(g) for g in groups] == [1, 3, 5, 5, 5]


def test_sector_opml_lists_only_that_sector(env, scopes, ctx):
    root, outlines = feed_outlines(render_opml(env, scopes, ctx, "banks"))
    assert [o.get("xmlUrl") for o in outlines] == [
        ctx.url(f"feeds/sectors/banks{suffix}.atom.xml")
        for suffix in ("", "/urgent", "/red", "/amber", "/green")
    ]
    assert root.findtext("head/title") == 'Cascade alerts: Banks & "finance" <x> feeds'
    assert sector_opml_path("banks") == "feeds/sectors/banks.opml"


def test_unknown_sector_is_refused(env, scopes, ctx):
    with pytest.raises(ValueError, match="nowhere"):
        render_opml(env, scopes, ctx, "nowhere")


def test_opml_escapes_names_in_any_environment(templates, scopes, ctx):
    outputs = {render_opml(e, scopes, ctx, None) for e in environments(templates)}
    assert len(outputs) == 1, "whitespace and escaping must not depend on the caller's settings"
    data = outputs.pop()
    assert b"Banks &amp; &#34;finance&#34; &lt;x&gt;" in data
    assert b"<x>" not in data
    root, _ = feed_outlines(data)
    texts = [o.get("text") for o in root.iter("outline")]
    assert 'Banks & "finance" <x>' in texts


def test_opml_is_deterministic_and_well_formed(env, scopes, ctx):
    first = render_opml(env, scopes, ctx, None)
    assert first == render_opml(env, scopes, ctx, None)
    assert first.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<opml')
    assert first.endswith(b"</opml>\n")
    assert b"<!DOCTYPE" not in first


def test_opml_strips_xml_illegal_characters(env, make_context, alerts):
    from alerts.model import Sector

    odd = Sector("odd", "Odd\x0b name\ufffe", "")
    ctx = make_context(alerts, [odd])
    root, _ = feed_outlines(render_opml(env, all_scopes([odd]), ctx, None))
    assert "Odd name" in [o.get("text") for o in root.iter("outline")]


# The feed stylesheet


@pytest.fixture(scope="module")
def xsl(env, ctx):
    return render_xsl(env, ctx)


def transform(xsl: bytes, feed: bytes) -> str:
    stylesheet = etree.XSLT(etree.fromstring(xsl, PARSER))
    return str(stylesheet(etree.fromstring(feed, PARSER)))


def test_xsl_is_xslt_1_and_escapes_the_site_name(templates, make_context, alerts):
    ctx = make_context(alerts, site_name='Alerts & "Co" <test>')
    for e in environments(templates):
        data = render_xsl(e, ctx)
        root = etree.fromstring(data, PARSER)
        assert root.get("version") == "1.0"
        assert b"Alerts &amp; &#34;Co&#34; &lt;test&gt;" in data
        assert b"<script" not in data and b"<!DOCTYPE" not in data


@pytest.mark.parametrize("render", [render_atom, render_rss])
def test_xsl_shows_a_feed_as_a_page(xsl, ctx, alerts, scopes, render):
    scope = next(s for s in scopes if s.key == "sectors/retail")
    members = [a for a in alerts if scope.includes(a)]
    page = transform(xsl, render(scope, members, ctx))
    doc = etree.fromstring(page.split("\n", 1)[1], etree.HTMLParser())
    assert doc.find(".//link[@rel='stylesheet']").get("href") == "/theme/css/site.css"
    assert doc.findtext(".//h1") == "Cascade alerts: Retail"
    assert "How to subscribe" in page
    fmt = "atom" if render is render_atom else "rss"
    assert doc.findtext(".//code") == ctx.url(scope.feed_path(fmt))
    assert not doc.findall(".//script")
    items = doc.findall(".//ol[@class='alert-list']/li")
    assert len(items) == len(members)
    gas = next(li for li in items if "Market" in "".join(li.itertext()))
    assert gas.findtext(".//strong") == "AMBER"
    assert gas.find(".//a").text == 'Gas <valve> leak at "Market" Street & Co'
    assert gas.find(".//a").get("href") == ctx.alert_url("gas-leak")
    assert gas.findtext(".//p[@class='alert-date']") == "Issued 28 Mar 2026"
    # The RSS description is escaped HTML; the page must show the plain words.
    summary = gas.findtext(".//p[@class='alert-summary']")
    assert summary == 'Keep doors shut near the <valve> & wait for "all clear".'
    withdrawn = next(li for li in items if "robbery" in "".join(li.itertext()))
    assert withdrawn.find(".//a").text == "WITHDRAWN: RED: Armed robbery \u2014 two men seen"


def test_xsl_shows_an_empty_feed(xsl, ctx, scopes):
    scope = next(s for s in scopes if s.key == "sectors/night-time/amber")
    page = transform(xsl, render_atom(scope, [], ctx))
    assert "There are no alerts in this feed at the moment." in page
