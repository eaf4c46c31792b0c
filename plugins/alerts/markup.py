"""Turn an alert's Markdown body into sanitised HTML, its plain text and a default summary."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from .sanitise import EXTERNAL_REL, is_external, sanitise_html

SUMMARY_LIMIT = 300
_HEADING_MAP = {"h1": "h2", "h5": "h4", "h6": "h4"}
_SPACE = re.compile(r"\s+")
# Elements the sanitiser may emit that have no end tag, and those that sit inside a line
# of text (every other element separates words).
_VOID = frozenset({"br", "hr"})
_INLINE = frozenset({"a", "em", "strong", "code"})


@dataclass(frozen=True)
class RenderedBody:
    html: str  # sanitised
    first_paragraph: str  # plain text, whitespace collapsed
    text: str  # all the words, for search and feed fidelity checks
    images: int  # Markdown images found (not allowed: they are dropped)


class _AlertTree(Treeprocessor):
    """Shape the tree before serialising: heading levels, external link rel, images counted.

    Text is not read here: the tree still holds Markdown's placeholders for entities, code
    and e-mail links, which only become text once the HTML is serialised.
    """

    def run(self, root: ET.Element) -> None:
        self.images = 0
        for element in root.iter():
            if element.tag in _HEADING_MAP:
                element.tag = _HEADING_MAP[element.tag]
            elif element.tag == "a" and is_external(element.get("href", "")):
                element.set("rel", EXTERNAL_REL)
            elif element.tag == "img":
                self.images += 1


class _AlertExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Raw HTML is shown as text, never passed through: "<valve>" in prose must survive.
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_AlertTree(md), "cascade_alert", 0)


def _new_markdown() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=[
            "markdown.extensions.tables",
            "markdown.extensions.fenced_code",
            "markdown.extensions.sane_lists",
            _AlertExtension(),
        ],
        extension_configs={"markdown.extensions.tables": {"use_align_attribute": True}},
        output_format="html",
    )


_MD = _new_markdown()
_TREE: _AlertTree = _MD.treeprocessors["cascade_alert"]  # type: ignore[assignment]


def render_body(source: str) -> RenderedBody:
    """Markdown to sanitised HTML. Pure: the same source always gives the same result."""
    _MD.reset()
    # Markdown skips the tree processors for blank input: without this reset, a blank body
    # would report the previous body's images.
    _TREE.images = 0
    raw_html = _MD.convert(source)
    html = sanitise_html(raw_html)
    reader = _TextReader()
    reader.feed(html)
    reader.close()
    return RenderedBody(
        html=html,
        first_paragraph=_SPACE.sub(" ", "".join(reader.first_paragraph)).strip(),
        text=_SPACE.sub(" ", "".join(reader.text)).strip(),
        images=_TREE.images,
    )


def cut_summary(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """`text` cut at a word boundary to at most `limit` characters, marked with an ellipsis."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # Back up to the last space unless the cut already falls between two words.
    if text[limit - 1] != " " and " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"


class _TextReader(HTMLParser):
    """The text of sanitised HTML, and of its first top-level paragraph."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.first_paragraph: list[str] = []
        self.depth = 0
        self.in_first = False
        self.seen_first = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INLINE:
            self.handle_data(" ")
        if tag in _VOID:
            return
        self.depth += 1
        if self.depth == 1 and tag == "p" and not self.seen_first:
            self.in_first = self.seen_first = True

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if tag not in _INLINE:
            self.handle_data(" ")
        self.depth -= 1
        if self.depth == 0:
            self.in_first = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.in_first:
            self.first_paragraph.append(data)
