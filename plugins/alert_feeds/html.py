"""Make alert HTML fit for feeds: absolute link targets and only XML-legal characters."""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser
from urllib.parse import urljoin

# Attributes holding a URL in our sanitised subset. `cite` (blockquote) is included because a
# feed reader resolves it against the feed, not against the alert page it was written for.
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})

# Everything outside XML 1.0's Char production: C0 controls except tab/LF/CR, lone surrogates,
# U+FFFE and U+FFFF. lxml refuses most of these and a feed reader's parser rejects the rest.
# Listed rather than written as the negation of what is allowed: compiling a negated class
# that reaches U+10FFFF takes ~10 ms, paid by every build.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Remove characters XML 1.0 forbids; everything else, markup included, is left alone."""
    return _XML_ILLEGAL.sub("", text)


def absolutise(html: str, base: str) -> str:
    """Resolve every href/src/cite against `base`; every other byte of `html` is kept as is."""
    rewriter = _LinkRewriter(base)
    rewriter.feed(html)
    rewriter.close()
    return "".join(rewriter.out)


class _LinkRewriter(HTMLParser):
    """Echoes the HTML token by token, rebuilding only start tags that carry a URL."""

    def __init__(self, base: str) -> None:
        # Keep character references as written, so text round-trips unchanged.
        super().__init__(convert_charrefs=False)
        self.base = base
        self.out: list[str] = []

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], self_closing: bool) -> None:
        if not any(name in _URL_ATTRIBUTES and value is not None for name, value in attrs):
            self.out.append(self.get_starttag_text() or "")
            return
        parts = [f"<{tag}"]
        for name, value in attrs:
            if value is None:
                parts.append(f" {name}")
                continue
            if name in _URL_ATTRIBUTES:
                value = urljoin(self.base, value.strip())
            parts.append(f' {name}="{escape(value, quote=True)}"')
        parts.append(" />" if self_closing else ">")
        self.out.append("".join(parts))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=True)

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.out.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.out.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.out.append(f"<![{data}]>")
