"""Turn an alert's Markdown body into sanitised HTML, its plain text and a default summary."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from .sanitise import EXTERNAL_REL, is_external, sanitise_html

SUMMARY_LIMIT = 300
_HEADING_MAP = {"h1": "h2", "h5": "h4", "h6": "h4"}
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class RenderedBody:
    html: str  # sanitised
    first_paragraph: str  # plain text, whitespace collapsed
    text: str  # all the words, for search and feed fidelity checks
    images: int  # Markdown images found (not allowed: they are dropped)


class _AlertTree(Treeprocessor):
    """Shape the tree before serialising: heading levels, external link rel, images counted."""

    def run(self, root: ET.Element) -> None:
        self.images = 0
        self.first_paragraph = ""
        for element in root.iter():
            if element.tag in _HEADING_MAP:
                element.tag = _HEADING_MAP[element.tag]
            elif element.tag == "a" and is_external(element.get("href", "")):
                element.set("rel", EXTERNAL_REL)
            elif element.tag == "img":
                self.images += 1
        for element in root:
            if element.tag == "p":
                self.first_paragraph = _SPACE.sub(" ", "".join(element.itertext())).strip()
                break


class _AlertExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (Markdown's API)
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
    raw_html = _MD.convert(source)
    html = sanitise_html(raw_html)
    text = _SPACE.sub(" ", _text_of(html)).strip()
    return RenderedBody(
        html=html, first_paragraph=_TREE.first_paragraph, text=text, images=_TREE.images
    )


def cut_summary(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """`text` cut at a word boundary to at most `limit` characters, marked with an ellipsis."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"


def _text_of(html: str) -> str:
    from html.parser import HTMLParser

    parts: list[str] = []

    class _Text(HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

        def handle_starttag(self, tag: str, attrs: object) -> None:
            parts.append(" ")

    parser = _Text(convert_charrefs=True)
    parser.feed(html)
    parser.close()
    return "".join(parts)
