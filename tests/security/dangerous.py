"""What "nothing dangerous survives" means (shared/data/xss/README.md), checked on parsed
HTML: elements, attributes and URL schemes, never string matching."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

BANNED_ELEMENTS = {"script", "iframe", "object", "embed", "form", "style"}
BANNED_SCHEMES = ("javascript:", "vbscript:", "data:")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def scheme_of(url: str) -> str:
    # Browsers ignore whitespace and control characters inside a scheme ("java\tscript:").
    return _INVISIBLE.sub("", url).lower()


def dangers_in_tree(root: etree._Element) -> list[str]:
    found = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = etree.QName(element).localname.lower()
        if tag in BANNED_ELEMENTS:
            found.append(f"<{tag}>")
        for name, value in element.attrib.items():
            local = etree.QName(name).localname.lower() if name.startswith("{") else name.lower()
            if local.startswith("on"):
                found.append(f"{tag}[{local}]")
            if local == "style":
                found.append(f"{tag}[style]")
            if local in ("href", "src", "action", "formaction", "xlink:href") and scheme_of(
                value
            ).startswith(BANNED_SCHEMES):
                found.append(f"{tag}[{local}={value[:30]!r}]")
    return found


def dangers_in_html(html: str) -> list[str]:
    if not html.strip():
        return []
    fragments = lxml.html.fragments_fromstring(html)
    found = []
    for fragment in fragments:
        if isinstance(fragment, str):
            continue
        found += dangers_in_tree(fragment)
    return found
