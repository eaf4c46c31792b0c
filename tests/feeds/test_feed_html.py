"""absolutise() makes link targets absolute and leaves everything else alone; xml_safe() too."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alert_feeds.html import absolutise, xml_safe

BASE = "https://alerts.example.org/alerts/gas-leak/"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="/levels/">x</a>', '<a href="https://alerts.example.org/levels/">x</a>'),
        ('<a href="../other/">x</a>', '<a href="https://alerts.example.org/alerts/other/">x</a>'),
        (
            '<a href="map.pdf">x</a>',
            '<a href="https://alerts.example.org/alerts/gas-leak/map.pdf">x</a>',
        ),
        ('<a href="#where">x</a>', f'<a href="{BASE}#where">x</a>'),
        ('<a href="?q=1&amp;r=2">x</a>', f'<a href="{BASE}?q=1&amp;r=2">x</a>'),
        ('<a href="https://www.gov.uk/x">x</a>', '<a href="https://www.gov.uk/x">x</a>'),
        ('<a href="mailto:duty@example.org">x</a>', '<a href="mailto:duty@example.org">x</a>'),
        ('<a href="//cdn.example.net/a">x</a>', '<a href="https://cdn.example.net/a">x</a>'),
        ('<a href=" /levels/ ">x</a>', '<a href="https://alerts.example.org/levels/">x</a>'),
        (
            '<a title="Tom &amp; &quot;Jerry&quot;" href="/x/">x</a>',
            '<a title="Tom &amp; &quot;Jerry&quot;" href="https://alerts.example.org/x/">x</a>',
        ),
        (
            '<blockquote cite="/source/">q</blockquote>',
            '<blockquote cite="https://alerts.example.org/source/">q</blockquote>',
        ),
    ],
)
def test_urls_become_absolute(html, expected):
    assert absolutise(html, BASE) == expected


@pytest.mark.parametrize(
    "html",
    [
        "<p>Plain &amp; simple &lt;valve&gt; &#169; &copy; &#x1F6A8;</p>",
        "<h2>Heading</h2>\n<ul>\n<li><em>one</em></li>\n<li><strong>two</strong></li>\n</ul>",
        "<p>line<br>break<br/>and<br />more</p><hr>",
        '<table><thead><tr><th scope="col">A</th></tr></thead>'
        '<tbody><tr><td colspan="2">1</td></tr></tbody></table>',
        "<pre><code>if a &lt; b &amp;&amp; c:\n    pass</code></pre>",
        "<p dir='rtl'>کورڈن ہٹا دیا گیا ہے 🚧</p><!-- note -->",
        '<ol start="3"><li>x</li></ol>',
        "",
        "text only, no markup",
    ],
)
def test_everything_else_is_preserved_exactly(html):
    assert absolutise(html, BASE) == html


def test_deterministic():
    html = '<p><a href="/a/">a</a> <a href="b">b</a></p>'
    assert absolutise(html, BASE) == absolutise(html, BASE)


@settings(database=None)  # no example database in the working tree
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_text_without_markup_is_unchanged(text):
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert absolutise(escaped, BASE) == escaped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tab\tnewline\ncr\r", "tab\tnewline\ncr\r"),
        ("a\x00b\x08c\x0bd\x0ce\x1ff", "abcdef"),
        ("nonchar\ufffe\uffff!", "nonchar!"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        ("emoji 🚨 and اردو", "emoji 🚨 and اردو"),
        ("\ue000private\ufffd", "\ue000private\ufffd"),
    ],
)
def test_xml_safe(text, expected):
    assert xml_safe(text) == expected


def test_xml_safe_keeps_exactly_the_xml_char_production():
    # XML 1.0, production [2]: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
    def is_char(cp):
        return (
            cp in (0x9, 0xA, 0xD)
            or 0x20 <= cp <= 0xD7FF
            or 0xE000 <= cp <= 0xFFFD
            or 0x10000 <= cp <= 0x10FFFF
        )

    text = "".join(map(chr, range(0x110000)))
    assert xml_safe(text) == "".join(chr(cp) for cp in range(0x110000) if is_char(cp))
