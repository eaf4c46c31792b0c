"""End-to-end: every feed of the built demo site, checked by real clients and schemas."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import feedparser
import lxml.html
from jsonschema import Draft7Validator
from lxml import etree

from tests.cli.test_cli import tree_digest
from tests.conftest import DEMO_NOW, ROOT, build, copy_content
from tests.site.oracle import Raw, newest_first, read_all, sector_slugs

PUBLIC = "https://alerts.example.org"
NOW = datetime.fromisoformat(DEMO_NOW)
SAFE_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
LEVELS = ("red", "amber", "green")


@cache
def raw_alerts() -> tuple[Raw, ...]:
    return tuple(read_all(ROOT / "content"))


def expected_scopes() -> dict[str, list[Raw]]:
    """Scope key -> the alerts it should hold (before retention), from the files alone."""
    alerts = newest_first(list(raw_alerts()))
    scopes: dict[str, list[Raw]] = {"all": alerts}
    for level in LEVELS:
        scopes[f"levels/{level}"] = [a for a in alerts if a.level == level]
    for slug in sector_slugs(ROOT / "content"):
        mine = [a for a in alerts if slug in a.sectors or a.sectors == ["all"]]
        scopes[f"sectors/{slug}"] = mine
        scopes[f"sectors/{slug}/urgent"] = [a for a in mine if a.level in ("red", "amber")]
        for level in LEVELS:
            scopes[f"sectors/{slug}/{level}"] = [a for a in mine if a.level == level]
    return scopes


def retained(members: list[Raw]) -> list[Raw]:
    cutoff = NOW - timedelta(days=45)

    def updated(a: Raw) -> datetime:
        corrections = a.meta.get("corrections") or []
        return datetime.fromisoformat(corrections[-1]["at"]) if corrections else a.issued

    return [
        a for i, a in enumerate(members) if i < 50 or a.issued >= cutoff or updated(a) >= cutoff
    ]


def feed_files(site: Path, suffix: str) -> list[Path]:
    return sorted(p for p in (site / "feeds").rglob(f"*{suffix}") if p.is_file())


def entry_alert_id(entry_id: str) -> str:
    match = re.fullmatch(
        r"tag:alerts\.example\.org,(\d{4}-\d{2}-\d{2}):/alerts/([a-z0-9-]+)", entry_id
    )
    assert match, entry_id
    assert match.group(2).startswith(match.group(1))
    return match.group(2)


def test_every_scope_has_three_formats(demo_site: Path) -> None:
    for key in expected_scopes():
        for suffix in (".atom.xml", ".rss.xml", ".json"):
            assert (demo_site / "feeds" / f"{key}{suffix}").is_file(), key + suffix


def test_atom_feeds_validate_against_rfc4287(demo_site: Path, shared: Path) -> None:
    schema = etree.RelaxNG(etree.parse(str(shared / "schemas" / "atom.rng")))
    files = feed_files(demo_site, ".atom.xml")
    assert len(files) == len(expected_scopes())
    for path in files:
        doc = etree.parse(str(path), SAFE_PARSER)
        assert schema.validate(doc), (path, schema.error_log.last_error)
        assert doc.docinfo.doctype == ""


def test_rss_feeds_pass_the_smoke_schema_and_our_rules(demo_site: Path, shared: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(shared / "schemas" / "rss-2_0.xsd")))
    for path in feed_files(demo_site, ".rss.xml"):
        doc = etree.parse(str(path), SAFE_PARSER)
        channel = doc.find("channel")
        self_link = channel.find("{http://www.w3.org/2005/Atom}link").get("href")
        assert self_link == f"{PUBLIC}/{path.relative_to(demo_site).as_posix()}"
        assert channel.findtext("link") != self_link
        if channel.findall("item"):  # the smoke schema wrongly requires an item
            assert schema.validate(doc), (path, schema.error_log.last_error)
        for item in channel.findall("item"):
            assert item.find("guid").get("isPermaLink") == "false"
            assert re.search(r"[+-]\d{4}$", item.findtext("pubDate"))
            for enclosure in item.findall("enclosure"):
                assert int(enclosure.get("length")) > 0 and enclosure.get("type")


def test_json_feeds_validate_with_format_checking(demo_site: Path, shared: Path) -> None:
    schema = json.loads((shared / "schemas" / "jsonfeed-schema-v1.1.json").read_text())
    checker = Draft7Validator.FORMAT_CHECKER
    assert {"date-time", "uri"} <= set(checker.checkers), "install jsonschema[format]"
    validator = Draft7Validator(schema, format_checker=checker)
    assert list(
        validator.iter_errors(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": "x",
                "items": [{"id": "1", "content_text": "x", "date_published": "not a date"}],
            }
        )
    )
    for path in feed_files(demo_site, ".json"):
        errors = list(validator.iter_errors(json.loads(path.read_bytes())))
        assert not errors, (path, errors[0].message)


def test_each_feed_holds_exactly_its_scope(demo_site: Path) -> None:
    for key, members in expected_scopes().items():
        expected = [a.id for a in retained(members)]
        atom = feedparser.parse((demo_site / "feeds" / f"{key}.atom.xml").read_bytes())
        rss = feedparser.parse((demo_site / "feeds" / f"{key}.rss.xml").read_bytes())
        js = json.loads((demo_site / "feeds" / f"{key}.json").read_bytes())
        assert [entry_alert_id(e.id) for e in atom.entries] == expected, key
        assert [entry_alert_id(e.id) for e in rss.entries] == expected, key
        assert [entry_alert_id(i["id"]) for i in js["items"]] == expected, key


def _words(html: str) -> list[str]:
    return re.findall(r"\w+", lxml.html.fromstring(f"<div>{html}</div>").text_content())


def test_feedparser_recovers_every_alert_exactly(demo_site: Path) -> None:
    """The fidelity test: title, link, instants, level, sectors and every word of the body."""
    by_id = {a.id: a for a in raw_alerts()}
    for fmt in (".atom.xml", ".rss.xml"):
        parsed = feedparser.parse((demo_site / "feeds" / f"all{fmt}").read_bytes())
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert len(parsed.entries) == len(by_id)
        for entry in parsed.entries:
            raw = by_id[entry_alert_id(entry.id)]
            prefix = "WITHDRAWN: " if raw.withdrawn else ""
            assert entry.title == f"{prefix}{raw.level.upper()}: {raw.meta['title']}"
            assert entry.link == f"{PUBLIC}/alerts/{raw.id}/"
            published = datetime(*entry.published_parsed[:6], tzinfo=UTC)
            assert published == raw.issued.astimezone(UTC)
            corrections = raw.meta.get("corrections") or []
            updated_expected = (
                datetime.fromisoformat(corrections[-1]["at"]) if corrections else raw.issued
            )
            assert datetime(*entry.updated_parsed[:6], tzinfo=UTC) == updated_expected.astimezone(
                UTC
            )
            terms = {t.term for t in entry.tags}
            assert raw.level in terms
            assert set(raw.sectors) <= terms
            body_html = entry.content[0].value
            body_text = (demo_site / "alerts" / raw.id / "index.html").read_bytes()
            page_body = lxml.html.fromstring(body_text).cssselect(".alert-body")[0]
            page_words = re.findall(r"\w+", page_body.text_content())
            feed_words = _words(body_html)
            assert page_words and " ".join(page_words) in " ".join(feed_words), raw.id
            for href in re.findall(r'href="([^"]+)"', body_html):
                assert href.startswith(("https://", "http://", "mailto:")), href


def test_extension_elements_carry_level_and_sectors(demo_site: Path) -> None:
    ns = {"a": "http://www.w3.org/2005/Atom", "c": "https://alerts.example.org/ns/cascade/1.0"}
    doc = etree.parse(str(demo_site / "feeds" / "all.atom.xml"), SAFE_PARSER)
    by_id = {a.id: a for a in raw_alerts()}
    for entry in doc.findall("a:entry", ns):
        raw = by_id[entry_alert_id(entry.findtext("a:id", namespaces=ns))]
        assert entry.findtext("c:level", namespaces=ns) == raw.level
        assert [e.text for e in entry.findall("c:sector", ns)] == raw.sectors
        assert entry.findtext("c:status", namespaces=ns) == raw.meta.get("status", "active")


def test_threads_link_updates_to_their_parent(demo_site: Path) -> None:
    doc = etree.parse(str(demo_site / "feeds" / "all.atom.xml"), SAFE_PARSER)
    ns = {"a": "http://www.w3.org/2005/Atom", "thr": "http://purl.org/syndication/thread/1.0"}
    by_id = {a.id: a for a in raw_alerts()}
    seen = 0
    for entry in doc.findall("a:entry", ns):
        raw = by_id[entry_alert_id(entry.findtext("a:id", namespaces=ns))]
        reply = entry.find("thr:in-reply-to", ns)
        if raw.meta.get("updates"):
            seen += 1
            assert entry_alert_id(reply.get("ref")) == raw.meta["updates"]
            assert reply.get("href") == f"{PUBLIC}/alerts/{raw.meta['updates']}/"
        else:
            assert reply is None
    assert seen >= 3


def test_ids_are_the_same_in_every_format_and_feed(demo_site: Path) -> None:
    ids: dict[str, set[str]] = {}
    for path in (demo_site / "feeds").rglob("*"):
        if path.suffix == ".json":
            for item in json.loads(path.read_bytes())["items"]:
                ids.setdefault(entry_alert_id(item["id"]), set()).add(item["id"])
        elif path.name.endswith((".atom.xml", ".rss.xml")):
            for entry in feedparser.parse(path.read_bytes()).entries:
                ids.setdefault(entry_alert_id(entry.id), set()).add(entry.id)
    assert ids and all(len(v) == 1 for v in ids.values())


def test_feed_ids_are_unique_and_updated_is_newest_entry(demo_site: Path) -> None:
    feed_ids = set()
    for path in feed_files(demo_site, ".atom.xml"):
        parsed = feedparser.parse(path.read_bytes())
        assert parsed.feed.id not in feed_ids
        feed_ids.add(parsed.feed.id)
        if parsed.entries:
            newest = max(e.updated_parsed for e in parsed.entries)
            assert parsed.feed.updated_parsed == newest


def test_opml_lists_every_feed_and_only_existing_ones(demo_site: Path) -> None:
    doc = etree.parse(str(demo_site / "feeds" / "subscriptions.opml"), SAFE_PARSER)
    listed = {o.get("xmlUrl") for o in doc.iter("outline") if o.get("xmlUrl")}
    existing = {
        f"{PUBLIC}/{p.relative_to(demo_site).as_posix()}"
        for p in feed_files(demo_site, ".atom.xml")
    }
    assert listed == existing
    for slug in sector_slugs(ROOT / "content"):
        one = etree.parse(str(demo_site / "feeds" / "sectors" / f"{slug}.opml"), SAFE_PARSER)
        urls = {o.get("xmlUrl") for o in one.iter("outline") if o.get("xmlUrl")}
        assert f"{PUBLIC}/feeds/sectors/{slug}.atom.xml" in urls
        assert all(u in existing for u in urls)


def test_feeds_carry_the_stylesheet_and_it_is_published(demo_site: Path) -> None:
    for path in feed_files(demo_site, ".xml"):
        head = path.read_bytes()[:200]
        assert b'<?xml-stylesheet type="text/xsl" href="/feeds/feed.xsl"?>' in head
    xsl = etree.parse(str(demo_site / "feeds" / "feed.xsl"), SAFE_PARSER)
    transform = etree.XSLT(xsl)
    page = transform(etree.parse(str(demo_site / "feeds" / "levels" / "red.atom.xml"), SAFE_PARSER))
    text = str(page)
    assert "subscribe" in text.lower() and "RED" in text


def test_pages_link_their_own_feeds(demo_site: Path) -> None:
    def alternates(path: str) -> set[str]:
        tree = lxml.html.fromstring((demo_site / path / "index.html").read_bytes())
        return {link.get("href") for link in tree.cssselect("link[rel=alternate]")}

    assert "/feeds/sectors/retail.atom.xml" in alternates("sectors/retail")
    assert "/feeds/levels/red.rss.xml" in alternates("levels/red")
    assert "/feeds/all.json" in alternates("")
    subscribe = lxml.html.fromstring((demo_site / "subscribe" / "index.html").read_bytes())
    codes = {c.text_content() for c in subscribe.cssselect("code")}
    assert f"{PUBLIC}/feeds/sectors/retail/urgent.atom.xml" in codes
    for path in (demo_site / "feeds").rglob("*.atom.xml"):
        assert f"{PUBLIC}/{path.relative_to(demo_site).as_posix()}" in codes


def test_feed_ids_survive_a_body_change_and_rebuild_is_byte_identical(tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    assert build(content, tmp_path / "a", "--no-cache") == 0
    assert build(content, tmp_path / "b", "--no-cache") == 0
    feeds_a = {k: v for k, v in tree_digest(tmp_path / "a").items() if k.startswith("feeds/")}
    assert feeds_a == {
        k: v for k, v in tree_digest(tmp_path / "b").items() if k.startswith("feeds/")
    }
    before = {
        e.id for e in feedparser.parse((tmp_path / "a/feeds/all.atom.xml").read_bytes()).entries
    }
    target = next(content.glob("alerts/2026/2026-11-18-*.md"))
    target.write_text(
        target.read_text(encoding="utf-8") + "\nAn extra closing line.\n", encoding="utf-8"
    )
    assert build(content, tmp_path / "a") == 0
    after = feedparser.parse((tmp_path / "a/feeds/all.atom.xml").read_bytes())
    assert {e.id for e in after.entries} == before
    assert any("An extra closing line." in e.content[0].value for e in after.entries)
