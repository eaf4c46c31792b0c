"""The one HTML sanitiser: every Markdown body passes through it before any page or feed."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import nh3

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "h2", "h3", "h4", "ul", "ol", "li", "em", "strong", "a", "blockquote",
        "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "hr", "br",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title", "rel"}),
    "ol": frozenset({"start"}),
    "th": frozenset({"align"}),
    "td": frozenset({"align"}),
}
ALLOWED_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
# Tags whose content is dropped, not kept as text: it is never meant for a reader.
DROP_CONTENT_TAGS: frozenset[str] = frozenset({"script", "style", "template", "iframe", "object"})
EXTERNAL_REL = "noopener noreferrer"
# Browsers delete tab and newline anywhere in a URL, so "/<TAB>/evil.example" is
# "//evil.example": another site. No legitimate link holds a control character.
_URL_CONTROL = re.compile("[\x00-\x1f\x7f]")
# What XML 1.0 cannot carry; a character reference like &#1; decodes to one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def allowed_url(url: str) -> bool:
    """http(s) and mailto links, site-relative paths and in-page anchors; nothing else."""
    url = url.strip()
    if _URL_CONTROL.search(url):
        return False
    if url.startswith("#"):
        return True
    if url.startswith("/"):
        # "//host" and "/\host" are other sites to a browser, not paths on ours.
        return not url.startswith(("//", "/\\"))
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return False
    return scheme in ALLOWED_SCHEMES


def is_external(url: str) -> bool:
    try:
        return urlsplit(url.strip()).scheme.lower() in ("http", "https")
    except ValueError:  # "http://[::1" and the like; the sanitiser drops such links
        return False


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href":
        return value if allowed_url(value) else None
    if tag == "a" and attribute == "rel":
        # Only the Markdown renderer sets rel, and only to this value.
        return EXTERNAL_REL if value == EXTERNAL_REL else None
    if attribute == "align":
        return value if value in ("left", "right", "center") else None
    if attribute == "start":
        return value if value.isdigit() and len(value) < 7 else None
    return value


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROP_CONTENT_TAGS),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_filter_attribute,
    url_schemes=set(ALLOWED_SCHEMES),
    strip_comments=True,
    link_rel=None,
)


def sanitise_html(html: str) -> str:
    """Return `html` reduced to the allowlist above; safe to embed in pages and feeds."""
    # Removing characters after cleaning cannot change a link: allowed_url refuses any
    # URL that holds one.
    return _NOT_XML.sub("", str(_CLEANER.clean(html)))
