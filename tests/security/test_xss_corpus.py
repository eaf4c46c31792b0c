"""The XSS corpus pushed through every author-controlled field and built with real
Pelican: no page and no feed entry carries anything dangerous."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from lxml import etree

import publish
from bench.synth import SECTORS, write_registry
from tests.conftest import DEMO_NOW
from tests.security.dangerous import dangers_in_html, dangers_in_tree

NOW = datetime.fromisoformat(DEMO_NOW)
SAFE_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> tuple[Path, int]:
    vectors = [v["vector"] for v in json.loads((shared / "data/xss/xss_vectors.json").read_bytes())]
    assert len(vectors) == 777
    base = tmp_path_factory.mktemp("xss")
    content = base / "content"
    write_registry(content)
    for index, vector in enumerate(vectors):
        # Every alert within the feeds' retention window, so every one is in a feed.
        issued = (NOW - timedelta(minutes=50 * (index + 1))).replace(microsecond=0)
        day = issued.date().isoformat()
        path = content / "alerts" / day[:4] / f"{day}-vector-{index}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        title = vector.replace("\n", " ")[:150] or "empty"
        summary = vector.replace("\n", " ")[:300]
        path.write_text(
            "---\n"
            f"title: {_quote(title)}\n"
            f'level: "{("red", "amber", "green")[index % 3]}"\n'
            f'issued: "{issued.isoformat()}"\n'
            f'sectors: ["{SECTORS[index % len(SECTORS)]}"]\n'
            'source: "met-police"\n'
            f"summary: {_quote(summary)}\n"
            "---\n\n"
            f"Hostile body follows.\n\n{vector}\n",
            encoding="utf-8",
        )
    # Titles and summaries with control characters are refused by check (that is the
    # point of the rule); take those files out, keep everything check accepts.
    checked = publish.main(["check", "--content", str(content), "--now", DEMO_NOW])
    if checked != 0:
        from alerts.cache import AlertCache
        from alerts.errors import ContentError
        from alerts.loader import load_content

        try:
            load_content(content, NOW, timedelta(minutes=5), AlertCache(None, "x"))
        except ContentError as exc:
            for problem in exc.problems:
                assert problem.field in ("title", "summary"), problem
                (content / problem.path).unlink(missing_ok=True)
    built = len(list(content.rglob("*.md")))
    assert built > 700, "most vectors should be publishable as escaped text"
    output = base / "output"
    assert (
        publish.main(
            ["build", "--content", str(content), "--output", str(output), "--now", DEMO_NOW]
        )
        == 0
    )
    return output, built


def test_no_page_carries_anything_dangerous(hostile_site: tuple[Path, int]) -> None:
    output, built = hostile_site
    pages = list(output.rglob("*.html"))
    assert len(list((output / "alerts").iterdir())) == built
    for page in pages:
        tree = lxml.html.fromstring(page.read_bytes())
        assert dangers_in_tree(tree) == [], page


def test_no_feed_entry_carries_anything_dangerous(hostile_site: tuple[Path, int]) -> None:
    output, built = hostile_site
    atom = {"a": "http://www.w3.org/2005/Atom"}
    entries = 0
    for path in (output / "feeds").rglob("*.atom.xml"):
        doc = etree.parse(str(path), SAFE_PARSER)
        assert doc.docinfo.doctype == ""
        for entry in doc.findall("a:entry", atom):
            entries += 1
            for field in ("a:title", "a:summary"):
                element = entry.find(field, atom)
                if element is not None:
                    assert element.get("type", "text") == "text" and len(element) == 0
            content = entry.find("a:content", atom)
            assert content.get("type") == "html"
            assert dangers_in_html(content.text or "") == [], path
    for path in (output / "feeds").rglob("*.rss.xml"):
        doc = etree.parse(str(path), SAFE_PARSER)
        for item in doc.iter("item"):
            for child in item:
                if isinstance(child.tag, str) and child.tag.endswith("encoded"):
                    assert dangers_in_html(child.text or "") == [], path
            assert dangers_in_html(item.findtext("description") or "") == [], path
    for path in (output / "feeds").rglob("*.json"):
        for item in json.loads(path.read_bytes())["items"]:
            assert dangers_in_html(item.get("content_html", "")) == [], path
    assert entries >= built  # every alert is in at least one Atom feed


def test_opml_and_xsl_escape_names(hostile_site: tuple[Path, int]) -> None:
    output, _ = hostile_site
    for path in [output / "feeds" / "subscriptions.opml", output / "feeds" / "feed.xsl"]:
        doc = etree.parse(str(path), SAFE_PARSER)
        assert doc.docinfo.doctype == ""
        assert not [e for e in doc.iter() if isinstance(e.tag, str) and e.tag.lower() == "script"]


def test_hostile_topics_are_refused_with_a_clear_message(
    tmp_path: Path, shared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = tmp_path / "content"
    write_registry(content)
    vectors = [v["vector"] for v in json.loads((shared / "data/xss/xss_vectors.json").read_bytes())]
    path = content / "alerts/2026/2026-11-20-topics.md"
    path.parent.mkdir(parents=True)
    topics = ", ".join(_quote(v) for v in vectors[:20])
    path.write_text(
        f'---\ntitle: "Topics"\nlevel: "green"\nissued: "2026-11-20T08:00:00+00:00"\n'
        f'sectors: ["retail"]\nsource: "met-police"\ntopics: [{topics}]\n---\n\nBody.\n',
        encoding="utf-8",
    )
    assert publish.main(["check", "--content", str(content), "--now", DEMO_NOW]) == 1
    err = capsys.readouterr().err
    first = _quote(vectors[0])[1:-1]
    assert f"alerts/2026/2026-11-20-topics.md:7: topics[0]: '{vectors[0]}'" in err or first in err
    assert err.count("is not a slug (lower-case a-z, 0-9 and single hyphens)") == 20
