"""Render the feeds' companions from theme templates: OPML subscription lists and the feed XSL.

Templates are rendered through an overlay of the caller's Jinja environment (so a theme can
override them through the same loader) with autoescape, StrictUndefined and fixed whitespace
options forced on: Pelican's own environment has autoescape off and its whitespace settings
are the site's choice. The templates also wrap themselves in `{% autoescape true %}`, so they
stay escaped even if rendered through some other environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jinja2

from .context import FeedContext
from .html import xml_safe
from .namespaces import CASCADE_NS
from .scopes import FeedFormat, FeedScope

OPML_TEMPLATE = "feeds/subscriptions.opml"
XSL_TEMPLATE = "feeds/feed.xsl"
SUBSCRIPTIONS_PATH = "feeds/subscriptions.opml"
XSL_PATH = "feeds/feed.xsl"
SITE_CSS_HREF = "/theme/css/site.css"

# One subscription per feed, in Atom: importing a list that offered every format would
# subscribe the reader to each alert three times. Atom is the best specified of the three.
OPML_FORMAT = FeedFormat.ATOM


@dataclass(frozen=True)
class Outline:
    """One subscribable feed in an OPML list."""

    text: str
    description: str
    xml_url: str
    html_url: str


@dataclass(frozen=True)
class OutlineGroup:
    """A heading in the OPML list with the feeds under it."""

    text: str
    outlines: tuple[Outline, ...]


def sector_opml_path(slug: str) -> str:
    return f"feeds/sectors/{slug}.opml"


def opml_groups(scopes: Sequence[FeedScope], ctx: FeedContext) -> list[OutlineGroup]:
    """Everything; levels; then each sector with its own feeds, in the order of `scopes`."""
    everything = [s for s in scopes if s.sector is None and s.levels is None]
    levels = [s for s in scopes if s.sector is None and s.levels is not None]
    by_sector: dict[str, list[FeedScope]] = {}
    for scope in scopes:
        if scope.sector is not None:
            by_sector.setdefault(scope.sector, []).append(scope)
    groups = [
        OutlineGroup("Everything", _outlines(everything, ctx)),
        OutlineGroup("By level", _outlines(levels, ctx)),
    ]
    groups.extend(
        OutlineGroup(ctx.sector_label(slug), _outlines(members, ctx))
        for slug, members in by_sector.items()
    )
    return [group for group in groups if group.outlines]


def render_opml(
    env: jinja2.Environment,
    scopes: Sequence[FeedScope],
    ctx: FeedContext,
    only_sector: str | None = None,
) -> bytes:
    """The OPML 2.0 list of every scope's feed, or of one sector's feeds only."""
    site = ctx.settings.site_name
    if only_sector is None:
        title = f"{site}: all feeds"
    else:
        scopes = [scope for scope in scopes if scope.sector == only_sector]
        if not scopes:
            raise ValueError(f"no feed scopes for sector {only_sector!r}")
        title = f"{site}: {ctx.sector_label(only_sector)} feeds"
    return _render(
        env,
        OPML_TEMPLATE,
        title=xml_safe(title),
        owner_name=xml_safe(site),
        groups=opml_groups(scopes, ctx),
    )


def render_xsl(env: jinja2.Environment, ctx: FeedContext) -> bytes:
    """The XSLT 1.0 stylesheet that shows any of our Atom or RSS feeds as a readable page."""
    return _render(
        env,
        XSL_TEMPLATE,
        site_name=xml_safe(ctx.settings.site_name),
        home_url=ctx.url("/"),
        css_href=SITE_CSS_HREF,
        cascade_ns=CASCADE_NS,
    )


def _outlines(scopes: Sequence[FeedScope], ctx: FeedContext) -> tuple[Outline, ...]:
    return tuple(
        Outline(
            text=xml_safe(scope.title),
            description=xml_safe(scope.description),
            xml_url=ctx.url(scope.feed_path(OPML_FORMAT)),
            html_url=ctx.url(scope.page_path),
        )
        for scope in scopes
    )


def _render(env: jinja2.Environment, name: str, **context: object) -> bytes:
    strict = env.overlay(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # A fresh cache: a template the parent compiled without autoescape must not be reused.
        cache_size=0,
    )
    text = strict.get_template(name).render(**context)
    # Defensive: nothing a template adds may make the XML ill-formed.
    return xml_safe(text).encode("utf-8")
