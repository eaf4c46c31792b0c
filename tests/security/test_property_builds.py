"""Property: whatever passes check builds, with real Pelican, into well-formed XML and HTML."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import lxml.html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

import publish
from alerts.errors import ContentError
from alerts.loader import load_content
from bench.synth import write_registry
from tests.conftest import DEMO_NOW

SAFE_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=60,
)
# Mostly printable, so most examples pass check and are really built.
title_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp")), min_size=1, max_size=60
)
BUILT: list[int] = []
markdown_bits = st.sampled_from(
    ["# h", "## h", "- item", "1. one", "> quote", "`code`", "**bold**", "[l](/x)",
     "[l](javascript:x)", "<b>x</b>", "| a | b |\n|---|---|\n| 1 | 2 |", "---", "&amp;", "<valve>"]
)  # fmt: skip


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=title_text,
    summary=st.none() | title_text | text,
    body=st.lists(st.one_of(title_text, text, markdown_bits), min_size=1, max_size=6),
    level=st.sampled_from(["red", "amber", "green"]),
)
def test_what_check_accepts_builds_into_well_formed_output(
    title: str, summary: str | None, body: list[str], level: str
) -> None:
    from datetime import datetime, timedelta

    from alerts.cache import AlertCache

    base = Path(tempfile.mkdtemp(prefix="cascade-prop-"))
    try:
        content = base / "content"
        write_registry(content)
        path = content / "alerts/2026/2026-11-20-property.md"
        path.parent.mkdir(parents=True)
        lines = [
            "---",
            f"title: {json.dumps(title, ensure_ascii=False)}",
            f'level: "{level}"',
            'issued: "2026-11-20T08:00:00+00:00"',
            'sectors: ["retail"]',
            'source: "met-police"',
        ]
        if summary is not None:
            lines.append(f"summary: {json.dumps(summary, ensure_ascii=False)}")
        path.write_text("\n".join([*lines, "---", "", "\n\n".join(body)]) + "\n", encoding="utf-8")
        try:
            load_content(
                content,
                datetime.fromisoformat(DEMO_NOW),
                timedelta(minutes=5),
                AlertCache(None, "p"),
            )
        except ContentError:
            return  # refused by check, with problems: nothing to build
        output = base / "output"
        BUILT.append(1)
        assert (
            publish.main(
                ["build", "--content", str(content), "--output", str(output), "--now", DEMO_NOW]
            )
            == 0
        )
        for page in output.rglob("*.html"):
            lxml.html.fromstring(page.read_bytes())  # parses
            etree.fromstring(page.read_bytes(), etree.HTMLParser(recover=False))
        for feed in [*output.rglob("*.xml"), *output.rglob("*.opml"), *output.rglob("*.xsl")]:
            doc = etree.parse(str(feed), SAFE_PARSER)  # raises if not well-formed
            assert doc.docinfo.doctype == ""
        for feed in output.rglob("*.json"):
            json.loads(feed.read_bytes())
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_property_really_built_sites() -> None:
    """Guards the property above against only ever meeting refused input."""
    assert len(BUILT) >= 3
