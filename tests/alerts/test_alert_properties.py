"""Property tests: whatever an author (or a broken editor) writes, parsing returns an Alert
or problems, never an exception; and whatever passes is HTML a feed can carry."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from html.entities import name2codepoint
from html.parser import HTMLParser
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alerts.errors import Problem
from alerts.frontmatter import FrontMatterError, read_source
from alerts.markup import render_body
from alerts.registry import Registry
from alerts.sanitise import ALLOWED_ATTRIBUTES, ALLOWED_TAGS
from alerts.validate import FIELDS, ParsedAlert, parse_alert_file

PATH = "alerts/2017/2017-04-20-oxford-street.md"
# Modest and repeatable: the whole tests/alerts suite stays well under 40 seconds, and
# nothing is written to a .hypothesis folder in the working tree.
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})

GOOD_FRONT_MATTER: dict[str, Any] = {
    "title": "Suspect package on Oxford Street",
    "level": "red",
    "issued": "2017-04-20T21:30:00+01:00",
    "sectors": ["retail"],
    "source": "met",
}

TRICKY_VALUES = [
    "red", "amber", "green", "RED", "withdrawn", "active", "all", "retail", "met", "NO", "yes",
    "~", "2017-04-20T21:30:00+01:00", "2017-04-20T22:00:00Z", "2017-04-19-x", "bulletin.pdf",
    "../x", "/etc/passwd", "<script>x</script>", "\u202e", "",
]  # fmt: skip
# Values of every YAML type, including the ones PyYAML makes from plain text.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.dates().map(date.isoformat),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(TRICKY_VALUES),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["at", "note", "x"]) | st.text(max_size=5), inner, max_size=3
        )
    ),
    max_leaves=8,
)
field_names = st.sampled_from([*FIELDS, "sector", "Title", "author", "<<", "="]) | st.text(
    max_size=12
)
front_matter = st.builds(
    lambda base, extra: {**base, **extra},
    st.sampled_from([GOOD_FRONT_MATTER, {}]),
    st.dictionaries(field_names, values, max_size=5),
)

MARKDOWN_PIECES = [
    "Plain words. ", "\n\n", "# Head\n", "##### Small\n", "- item\n", "1. one\n", "> quote\n",
    "**bold** ", "*em* ", "`code` ", "```\nfence\n```\n", "| a | b |\n|---|:-:|\n| 1 | 2 |\n",
    "[link](https://example.org) ", "[bad](javascript:alert(1)) ", "[tab](/&#9;/evil) ",
    "![img](x.png) ", "<script>alert(1)</script>", "<b onclick=x>", "&amp; &copy; &#1; &#xFFFE; ",
    "AT&T 5 < 6 ", "<valve> ", "שלום مرحبا 😀 ", "\u202e", "\x0b", "\x00", "  \n", "\r\n",
    "<duty@example.org> ", "<https://x.example> ", "---\n", "\\*", "[ref][1]\n\n[1]: /x\n",
]  # fmt: skip
bodies = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(MARKDOWN_PIECES), max_size=12).map("".join),
    st.lists(st.sampled_from(MARKDOWN_PIECES) | st.text(max_size=10), max_size=12).map("".join),
)


def assert_problems_are_well_formed(result: list[Problem], raw: bytes) -> None:
    assert result, "an empty problem list would pass a broken file"
    lines = raw.count(b"\n") + raw.count(b"\r") + 2
    for problem in result:
        assert isinstance(problem, Problem)
        assert problem.path == PATH
        assert 1 <= problem.line <= lines, problem
        assert problem.field and problem.message
        assert problem.field.isprintable() and problem.message.isprintable(), problem


def as_xml(html: str) -> ET.Element:
    """Parse sanitised HTML as XML: void elements closed, named entities made numeric."""
    xml = re.sub(r"<(br|hr)>", r"<\1/>", html)
    xml = re.sub(
        r"&([A-Za-z][A-Za-z0-9]*);",
        lambda m: m.group(0) if m.group(1) in XML_ENTITIES else f"&#{name2codepoint[m.group(1)]};",
        xml,
    )
    return ET.fromstring(f"<root>{xml}</root>")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def assert_feed_safe(html: str) -> None:
    assert not XML_ILLEGAL.search(html), repr(html)
    root = as_xml(html)  # raises if tags do not nest or an entity is unknown
    for element in root.iter():
        if element is root:
            continue
        assert element.tag in ALLOWED_TAGS, element.tag
        assert set(element.attrib) <= ALLOWED_ATTRIBUTES.get(element.tag, frozenset())
    parser = _Tags()
    parser.feed(html)
    parser.close()
    assert [tag for tag, _ in parser.found] == [e.tag for e in root.iter() if e is not root]


def check(raw: bytes, registry: Registry) -> ParsedAlert | list[Problem]:
    result = parse_alert_file(raw, PATH, registry)
    if isinstance(result, list):
        assert_problems_are_well_formed(result, raw)
    else:
        assert isinstance(result, ParsedAlert)
        alert = result.alert
        assert_feed_safe(alert.body_html)
        for text in (alert.title, alert.summary, *(c.note for c in alert.corrections)):
            assert not XML_ILLEGAL.search(text), repr(text)
        assert len(alert.summary) <= 300
        assert alert.issued.tzinfo is not None
    return result


@PROPERTY
@given(metadata=front_matter, body=bodies)
@example(metadata=GOOD_FRONT_MATTER, body="Fine.")
@example(metadata={**GOOD_FRONT_MATTER, "title": "a\u2028b"}, body="x")
@example(metadata={**GOOD_FRONT_MATTER, "title": "\x85"}, body="x")
def test_any_front_matter_and_body_gives_an_alert_or_problems(
    registry: Registry, metadata: dict[str, Any], body: str
) -> None:
    text = "---\n" + yaml.safe_dump(metadata, allow_unicode=True) + "---\n" + body
    check(text.encode("utf-8", "surrogatepass"), registry)


@PROPERTY
@given(body=bodies)
@example(body="[x](/&#9;/evil.example) &#1; <https://[::1> [y](http://[::1)")
def test_any_body_of_a_good_alert_renders_feed_safe_html(registry: Registry, body: str) -> None:
    text = "---\n" + yaml.safe_dump(GOOD_FRONT_MATTER) + "---\n" + body
    raw = text.encode("utf-8", "surrogatepass")
    result = check(raw, registry)
    rendered = render_body(body)
    assert_feed_safe(rendered.html)
    assert "\x02" not in rendered.first_paragraph and "\x03" not in rendered.first_paragraph
    if isinstance(result, ParsedAlert):
        assert result.alert.body_html == render_body(read_source(raw).body).html


@PROPERTY
@given(raw=st.binary(max_size=400))
@example(raw=b"---\ntitle: \x01\n---\n")
@example(raw=b"\xff\xfe-\x00-\x00-\x00")
@example(raw=b"---\n" + b"a: [" * 50 + b"\n---\n")
def test_any_bytes_give_problems_or_an_alert(registry: Registry, raw: bytes) -> None:
    check(raw, registry)


@PROPERTY
@given(data=st.data())
def test_any_corruption_of_a_good_file_gives_problems_or_an_alert(
    registry: Registry, data: st.DataObject
) -> None:
    good = ("---\n" + yaml.safe_dump(GOOD_FRONT_MATTER) + "---\nBody text.\n").encode()
    position = data.draw(st.integers(0, len(good)))
    cut = data.draw(st.integers(0, 8))
    insert = data.draw(
        st.binary(max_size=6) | st.sampled_from([b"\r", b"\x00", b"\xef\xbb\xbf", b"---\n", b"&a "])
    )
    check(good[:position] + insert + good[position + cut :], registry)


@PROPERTY
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_read_source_raises_only_front_matter_errors(raw: bytes) -> None:
    try:
        source = read_source(raw)
    except FrontMatterError as exc:
        assert exc.line >= 1 and exc.field and exc.message
    else:
        assert isinstance(source.metadata, dict)
        assert set(source.lines) == set(source.metadata)
        assert all(isinstance(key, str) for key in source.metadata)
