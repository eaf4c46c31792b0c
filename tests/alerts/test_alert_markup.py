"""markup and sanitise: Markdown to safe HTML, text that must survive, and the XSS corpus."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import bleach
import pytest

from alerts.markup import cut_summary, render_body
from alerts.model import Level
from alerts.sanitise import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_SCHEMES,
    ALLOWED_TAGS,
    EXTERNAL_REL,
    allowed_url,
    is_external,
    sanitise_html,
)
from alerts.validate import ParsedAlert
from tests.conftest import SHARED

XSS_VECTORS = SHARED / "data" / "xss" / "xss_vectors.json"
DANGEROUS_ELEMENTS = frozenset({"script", "iframe", "object", "embed", "form", "style"})
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")


class Element:
    """A start tag as a browser would see it."""

    def __init__(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tag = tag
        self.attrs = {name: value or "" for name, value in attrs}

    def key(self) -> tuple[str, frozenset[tuple[str, str]]]:
        return self.tag, frozenset(self.attrs.items())


class Parsed(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.texts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, attrs))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    def handle_comment(self, data: str) -> None:
        self.elements.append(Element("!--", []))

    @property
    def text(self) -> str:
        return "".join(self.texts)


def url_as_a_browser_reads_it(value: str) -> str:
    # Browsers strip leading C0 controls and spaces and delete tab and newline anywhere.
    return re.sub(r"^[\x00-\x20]+", "", re.sub(r"[\t\n\r]", "", value)).lower()


def dangers(html: str) -> list[str]:
    """Everything the XSS corpus README calls dangerous, found by an HTML parser."""
    found = []
    for element in Parsed(html).elements:
        if element.tag in DANGEROUS_ELEMENTS:
            found.append(f"<{element.tag}>")
        if element.tag not in ALLOWED_TAGS:
            found.append(f"<{element.tag}> is not allowed")
        for name, value in element.attrs.items():
            if name.startswith("on") or name == "style":
                found.append(f"{element.tag} {name}=")
            if name in ("href", "src") and url_as_a_browser_reads_it(value).startswith(
                DANGEROUS_SCHEMES
            ):
                found.append(f"{element.tag} {name}={value!r}")
            if name == "href" and not allowed_url(value):
                found.append(f"href={value!r} is not an allowed URL")
            if name == "href" and url_as_a_browser_reads_it(value).startswith(("//", "/\\")):
                found.append(f"href={value!r} leads to another site")
            if name not in ALLOWED_ATTRIBUTES.get(element.tag, ()):
                found.append(f"{element.tag} {name}= is not allowed")
    return found


def html_of(markdown: str) -> str:
    return render_body(markdown).html


# Text that must survive exactly

LEGIT = [
    "Valve <valve> on the gas main",
    "Fish & chips",
    "AT&T and T-Mobile customers",
    "If 5 < 6 and 7 > 3, stay calm",
    "He said \"leave now\" and 'do not run'",
    "إخلاء المبنى فوراً",
    "פינוי מיידי של הבניין",
    "Mixed עברית and English and عربي",
    "Emoji 🚨🔥👮‍♀️ survive",
    "Tags as text: <b>bold</b> <script>alert(1)</script>",
    "<!-- not a comment -->",
    "A & B &amp C",
    "Non-breaking\u00a0space",
    "Café naïve façade 東京",
]


@pytest.mark.parametrize("text", LEGIT)
def test_legit_text_survives_in_the_body(text: str) -> None:
    body = render_body(text)
    assert Parsed(body.html).text == f"{text}"
    assert dangers(body.html) == []


@pytest.mark.parametrize("text", LEGIT)
def test_legit_text_survives_in_the_first_paragraph(text: str) -> None:
    body = render_body(f"{text}\n\nSecond paragraph.")
    assert body.first_paragraph == re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("text", LEGIT)
def test_legit_text_survives_in_the_default_summary(parse, make_alert, text: str) -> None:
    result = parse(make_alert(body=f"{text}\n\nMore."))
    assert isinstance(result, ParsedAlert), result
    assert result.alert.summary == re.sub(r"\s+", " ", text)


def test_raw_html_is_escaped_never_dropped() -> None:
    html = html_of(
        '<script>alert("x")</script> <iframe src="//evil"></iframe> <img src=x onerror=alert(1)>'
    )
    assert "&lt;script&gt;" in html
    assert "&lt;iframe" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert [e.tag for e in Parsed(html).elements] == ["p"]


def test_raw_html_block_is_escaped_too() -> None:
    html = html_of('<div onclick="x()">\n<p>inside</p>\n</div>')
    assert [e.tag for e in Parsed(html).elements] == ["p"]
    assert Parsed(html).text == '<div onclick="x()">\n<p>inside</p>\n</div>'


def test_markdown_placeholders_never_leak_into_the_summary() -> None:
    body = render_body(
        "AT&amp;T &copy; `x<y & z` \\*not emphasis\\* <duty@example.org> "
        "<https://example.org/?a=1&b=2>\n\nMore."
    )
    assert body.first_paragraph == (
        "AT&T © x<y & z *not emphasis* duty@example.org https://example.org/?a=1&b=2"
    )
    assert "\x02" not in body.text and "\x03" not in body.text


def test_emphasis_inside_a_word_does_not_split_it() -> None:
    assert render_body("un**believ**able").first_paragraph == "unbelievable"


def test_first_paragraph_is_the_first_top_level_paragraph() -> None:
    body = render_body("# Title\n\n> quoted\n\n- item\n\nThe real one.  \nWith a break.\n\nNext.")
    assert body.first_paragraph == "The real one. With a break."
    assert body.text == "Title quoted item The real one. With a break. Next."


def test_no_paragraph_no_first_paragraph() -> None:
    assert render_body("## Only a heading").first_paragraph == ""


# Headings


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("# One", "<h2>One</h2>"),
        ("One\n===", "<h2>One</h2>"),
        ("## Two", "<h2>Two</h2>"),
        ("### Three", "<h3>Three</h3>"),
        ("#### Four", "<h4>Four</h4>"),
        ("##### Five", "<h4>Five</h4>"),
        ("###### Six", "<h4>Six</h4>"),
    ],
)
def test_heading_levels_fit_the_page(markdown: str, html: str) -> None:
    assert html_of(markdown) == html


# Links


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "&#106;avascript:alert(1)",
        "java&#x09;script:alert(1)",
        "javascript&#58;alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "//evil.example/",
        "&#47;&#47;evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/&#9;/evil.example",
        "/&#10;/evil.example",
        "/&#13;/evil.example",
        "/&#1;/evil.example",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "page.html",
        "?q=1",
        "http://[::1",
    ],
)
def test_unsafe_and_off_site_links_lose_their_href(target: str) -> None:
    html = html_of(f"[click]({target})")
    (link,) = [e for e in Parsed(html).elements if e.tag == "a"]
    assert "href" not in link.attrs
    assert Parsed(html).text == "click"


@pytest.mark.parametrize(
    ("target", "rel"),
    [
        ("https://www.met.police.uk/", EXTERNAL_REL),
        ("http://example.org/a?b=1&c=2", EXTERNAL_REL),
        ("HTTPS://EXAMPLE.ORG", EXTERNAL_REL),
        ("mailto:duty@example.org", None),
        ("/alerts/2017-04-20-x/", None),
        ("/attachments/bulletin.pdf", None),
        ("#what-to-do", None),
    ],
)
def test_allowed_links_keep_their_href_and_only_external_ones_get_rel(
    target: str, rel: str | None
) -> None:
    (link,) = [e for e in Parsed(html_of(f"[x]({target})")).elements if e.tag == "a"]
    assert link.attrs.get("href") == target
    assert link.attrs.get("rel") == rel


def test_autolinks_are_links() -> None:
    elements = Parsed(html_of("<https://example.org> and <duty@example.org>")).elements
    assert [(e.tag, e.attrs) for e in elements] == [
        ("p", {}),
        ("a", {"href": "https://example.org", "rel": EXTERNAL_REL}),
        ("a", {"href": "mailto:duty@example.org"}),
    ]


def test_link_title_is_kept_as_text() -> None:
    (link,) = [e for e in Parsed(html_of("[x](/a \"Say 'hi' <b> & co\")")).elements if e.tag == "a"]
    assert link.attrs == {"href": "/a", "title": "Say 'hi' <b> & co"}


def test_images_are_counted_and_dropped() -> None:
    body = render_body("Before ![cctv](https://example.org/x.png) after ![b][1]\n\n[1]: /y.png")
    assert body.images == 2
    assert "img" not in [e.tag for e in Parsed(body.html).elements]


# Tables, lists, code


def test_tables_align_with_the_align_attribute_not_style() -> None:
    html = html_of("| Left | Right | Centre |\n|:--|--:|:-:|\n| 1 | 2 | 3 |")
    cells = [e for e in Parsed(html).elements if e.tag in ("th", "td")]
    assert [c.attrs for c in cells] == [
        {"align": "left"}, {"align": "right"}, {"align": "center"},
    ] * 2  # fmt: skip
    assert "style" not in html


def test_block_elements_survive() -> None:
    markdown = (
        "Para with *em*, **strong** and `code`.  \nBroken line.\n\n"
        "> Quote\n\n1. one\n2. two\n\n- a\n- b\n\n---\n\n```\nfenced <code>\n```\n\n"
        "    indented\n"
    )
    tags = {e.tag for e in Parsed(html_of(markdown)).elements}
    assert tags == {"p", "em", "strong", "code", "br", "blockquote", "ol", "ul", "li", "hr", "pre"}


def test_ordered_list_start_is_kept() -> None:
    assert '<ol start="3">' in html_of("3. three\n4. four")


def test_fenced_code_language_class_is_dropped() -> None:
    html = html_of("```python\nprint('<x>')\n```")
    assert html == "<pre><code>print('&lt;x&gt;')\n</code></pre>"


# The sanitiser on its own


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<p style="color:red" onclick="x()" class="c" id="i">t</p>', "<p>t</p>"),
        ("<script>steal()</script><p>ok</p>", "<p>ok</p>"),
        ("<style>p{}</style><template>t</template><p>ok</p>", "<p>ok</p>"),
        ('<iframe src="https://evil"></iframe><object>o</object>ok', "ok"),
        ("<h1>Big</h1><h5>small</h5>", "BigSmall".replace("S", "s")),
        ('<a href="https://x" rel="nofollow">x</a>', '<a href="https://x">x</a>'),
        (f'<a href="https://x" rel="{EXTERNAL_REL}">x</a>', f'<a href="https://x" rel="{EXTERNAL_REL}">x</a>'),
        ('<a href="javascript:x()">x</a>', "<a>x</a>"),
        ('<a href="/&#9;/evil.example">x</a>', "<a>x</a>"),
        ('<ol start="2"><li>b</li></ol>', '<ol start="2"><li>b</li></ol>'),
        ('<ol start="1e9"><li>b</li></ol>', "<ol><li>b</li></ol>"),
        ('<ol start="99999999"><li>b</li></ol>', "<ol><li>b</li></ol>"),
        ('<table><tr><td align="justify">1</td></tr></table>', "<table><tbody><tr><td>1</td></tr></tbody></table>"),
        ('<img src="x" onerror="y()">', ""),
        ("<form><input name=x></form>text", "text"),
        ("<!-- hidden -->shown", "shown"),
        ("a &#1; b &#xFFFE; c &#0; d", "a  b  c \ufffd d"),
        ("<p>x\x0by</p>", "<p>xy</p>"),
    ],
    ids=["attributes", "script", "style-template", "iframe-object", "h1-h5", "foreign-rel",
         "our-rel", "javascript", "tab-trick", "start", "start-exponent", "start-huge",
         "align-justify", "img", "form", "comment", "xml-illegal-references", "raw-control"],
)  # fmt: skip
def test_sanitise_html(html: str, expected: str) -> None:
    assert sanitise_html(html) == expected


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://x", True), (" https://x ", True), ("mailto:a@b", True), ("/a", True),
        ("#x", True), ("//x", False), ("/\\x", False), ("/\t/x", False), ("/\n/x", False),
        ("java\tscript:x", False), ("\x01javascript:x", False), ("x.html", False),
        ("tel:123", False), ("http://[::1", False), ("", False),
    ],
)  # fmt: skip
def test_allowed_url(url: str, allowed: bool) -> None:
    assert allowed_url(url) is allowed


@pytest.mark.parametrize(
    ("url", "external"),
    [("https://x", True), ("HTTP://x", True), ("/a", False), ("mailto:a@b", False),
     ("http://[::1", False)],
)  # fmt: skip
def test_is_external(url: str, external: bool) -> None:
    assert is_external(url) is external


def test_cut_summary_at_a_word_boundary() -> None:
    assert cut_summary("one two three", limit=20) == "one two three"
    assert cut_summary("one two three four", limit=10) == "one two…"
    assert cut_summary("one two, three four", limit=10) == "one two…"
    # The cut falls exactly between two words: the whole of the second word fits.
    assert cut_summary("aaaa bbbb cccc", limit=10) == "aaaa bbbb…"
    assert cut_summary("x" * 20, limit=10) == "x" * 9 + "…"
    for limit in range(2, 40):
        assert len(cut_summary("lorem ipsum dolor sit amet " * 3, limit=limit)) <= limit


# The XSS corpus


def load_vectors() -> list[str]:
    records = json.loads(XSS_VECTORS.read_text(encoding="utf-8"))
    return [record["vector"] for record in records]


VECTORS = load_vectors()


def test_the_corpus_is_all_there() -> None:
    assert len(VECTORS) == 777


@pytest.mark.parametrize(
    "template",
    [
        "{v}",
        "Intro paragraph.\n\n{v}\n\nOutro.",
        "[link]({v})",
        "[link](<{v}>)",
        '[link](/ok "{v}")',
        "[{v}](/ok)",
        "`{v}`",
        "```\n{v}\n```",
        "| a |\n|---|\n| {v} |",
        "> {v}",
        "- {v}",
        "# {v}",
        "[ref][r]\n\n[r]: {v}",
    ],
    ids=["raw", "between-paragraphs", "link-target", "angle-link", "link-title", "link-text",
         "code", "fence", "table", "quote", "list", "heading", "reference"],
)  # fmt: skip
def test_nothing_dangerous_survives_any_vector(template: str) -> None:
    failures = {}
    for vector in VECTORS:
        html = render_body(template.replace("{v}", vector)).html
        found = dangers(html)
        if found:
            failures[vector] = (html, found)
    assert failures == {}


def test_vectors_are_shown_as_text_not_lost() -> None:
    # Raw HTML is escaped, so the visible text keeps every non-space character.
    for vector in VECTORS:
        if vector.strip() and not re.search(r"[\\`*_\[\]#>|!&-]|^\d+\.|\s{4}", vector):
            text = Parsed(html_of(vector)).text
            assert re.sub(r"\s+", "", text) == re.sub(r"\s+", "", vector), vector


# A second opinion: bleach


SECOND_OPINION_INPUTS = [
    *LEGIT,
    "# Heading\n\nPara with [ext](https://example.org), [int](/a) and [mail](mailto:a@b).",
    "| a | b |\n|:-|-:|\n| 1 | 2 |",
    "3. three\n4. four",
    "```\n<code> & stuff\n```",
    "> quote with **bold** and *em*\n\n---\n\nEnd.  \nBreak.",
]


def structure(html: str) -> tuple[list[tuple[str, frozenset[tuple[str, str]]]], str]:
    parsed = Parsed(html)
    return [e.key() for e in parsed.elements], re.sub(r"\s+", " ", parsed.text).strip()


@pytest.mark.parametrize("source", [*SECOND_OPINION_INPUTS, *VECTORS[::7]])
def test_bleach_finds_nothing_to_remove(source: str) -> None:
    ours = html_of(source)
    theirs = bleach.clean(
        ours,
        tags=ALLOWED_TAGS,
        attributes={tag: sorted(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        protocols=ALLOWED_SCHEMES,
        strip=True,
    )
    assert structure(theirs) == structure(ours)


def test_level_labels_are_plain_text() -> None:
    # The level label is put into pages as text next to body HTML; it needs no escaping.
    assert all(re.fullmatch(r"[A-Z]+", level.label) for level in Level)


def test_blank_body_does_not_inherit_the_previous_body() -> None:
    render_body("First paragraph of another alert.\n\n![x](/y.png)")
    blank = render_body("")
    assert (blank.html, blank.first_paragraph, blank.text, blank.images) == ("", "", "", 0)
