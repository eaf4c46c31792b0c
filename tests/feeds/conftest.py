"""Realistic alerts, sectors and sources for the feed tests, and every feed rendered from them.

Test modules reach these through fixtures only: importing `conftest` by name breaks as soon as
another test folder has a conftest.py of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from alert_feeds.atom_rss import render_atom, render_rss
from alert_feeds.context import FeedContext
from alert_feeds.jsonfeed import render_json
from alert_feeds.scopes import FORMATS, FeedFormat, FeedScope, all_scopes
from alerts.model import (
    Alert,
    Attachment,
    Correction,
    Level,
    Provenance,
    Sector,
    Source,
    Status,
    newest_first_key,
)
from alerts.settings import CascadeSettings
from tests.conftest import SHARED

GMT = UTC
BST = timezone(timedelta(hours=1))
REPO = Path(__file__).resolve().parents[2]
SCHEMAS = SHARED / "schemas"
TEMPLATES = REPO / "theme" / "templates"

SECTORS: tuple[Sector, ...] = (
    Sector("retail", "Retail", "Shops, markets and shopping centres."),
    Sector("banks", 'Banks & "finance" <x>', "Banks, building societies and bureaux de change."),
    Sector("night-time", "Night-time economy", "Pubs, clubs and late venues."),
)
SOURCES: Mapping[str, Source] = {
    "met": Source("met", "Metropolitan Police", "https://www.met.police.uk/"),
    "ncsc": Source("ncsc", "NCSC & Action Fraud", None),
}
PROVENANCE: Mapping[str, Provenance] = {
    "phishing": Provenance("4f2a9c1e" * 5, "ED25519:ABCD1234EF567890", "Duty Inspector O'Neil"),
    "gas-leak": Provenance("0badc0de" * 5, "ED25519:1111222233334444", "Control Room"),
}


def make_alert(alert_id: str, **overrides: Any) -> Alert:
    """An Alert with plausible defaults; keyword arguments replace any field."""
    fields: dict[str, Any] = {
        "id": alert_id,
        "path": f"alerts/{alert_id}.md",
        "title": f"Test alert {alert_id}",
        "level": Level.GREEN,
        "issued": datetime(2026, 3, 20, 9, 0, tzinfo=GMT),
        "sectors": ("retail",),
        "sources": ("met",),
        "summary": "A short summary.",
        "body_html": "<p>Body text.</p>",
    }
    fields.update(overrides)
    return Alert(**fields)


def sample_alerts() -> list[Alert]:
    """A thread across the BST change, a withdrawn, a corrected and an all-sector alert."""
    return [
        make_alert(
            "gas-leak",
            title='Gas <valve> leak at "Market" Street & Co',
            level=Level.AMBER,
            issued=datetime(2026, 3, 28, 12, 0, tzinfo=GMT),
            summary='Keep doors shut near the <valve> & wait for "all clear".',
            body_html=(
                '<h2 id="where">Where</h2>\n'
                "<p>The leak is at the <strong>Market Street</strong> junction &amp; "
                'the &lt;valve&gt; is shut. See <a href="/levels/">what AMBER means</a>, '
                '<a href="../gas-leak-update/">the update</a> and <a href="#where">where</a>.'
                "</p>\n<ul><li>Close doors</li><li>Don't use lifts</li></ul>"
            ),
            attachments=(
                Attachment("gas-leak/cordon map.pdf", 123456, "application/pdf"),
                Attachment("gas-leak/poster.png", 2048, "image/png"),
            ),
        ),
        make_alert(
            "gas-leak-update",
            title="گیس کا اخراج: تازہ ترین 🚨 تحديث",
            level=Level.AMBER,
            issued=datetime(2026, 3, 30, 12, 0, tzinfo=BST),
            updates="gas-leak",
            summary="کورڈن ہٹا دیا گیا ہے۔ تم رفع الطوق 🚧",  # noqa: RUF001 (Urdu full stop)
            body_html=(
                "<p>کورڈن ہٹا دیا گیا ہے اور دکانیں دوبارہ کھل سکتی ہیں۔</p>\n"  # noqa: RUF001
                '<p>تم رفع الطوق. <a href="/alerts/gas-leak/">التنبيه الأصلي</a> 🚧</p>'
            ),
        ),
        make_alert(
            "phishing",
            title="Phishing emails claiming to be from \u201cHMRC\u201d",
            level=Level.GREEN,
            issued=datetime(2026, 3, 25, 8, 30, tzinfo=GMT),
            sectors=("all",),
            sources=("met", "ncsc"),
            topics=("fraud", "cyber"),
            summary="Emails ask staff to 'verify' payroll details.",
            body_html=(
                "<p>Do not click links in emails about <em>payroll</em> refunds.</p>\n"
                "<blockquote><p>Your refund is ready</p></blockquote>\n"
                "<pre><code>From: refunds@hmrc-gov.example</code></pre>"
            ),
            corrections=(
                Correction(datetime(2026, 4, 2, 9, 15, tzinfo=BST), "Fixed the sender's address"),
            ),
        ),
        make_alert(
            "armed-robbery",
            title="Armed robbery \u2014 two men seen",
            level=Level.RED,
            issued=datetime(2026, 3, 31, 22, 45, tzinfo=BST),
            sectors=("retail", "banks"),
            status=Status.WITHDRAWN,
            expires=datetime(2026, 4, 1, 6, 0, tzinfo=BST),
            summary="Withdrawn: the men have been arrested.",
            body_html=(
                "<p>Two men threatened staff at a bank on the high street.</p>\n"
                "<table><thead><tr><th>Time</th><th>Place</th></tr></thead>"
                "<tbody><tr><td>22:30</td><td>High Street</td></tr></tbody></table>"
            ),
        ),
        make_alert(
            "late-venue",
            title="Crowd disorder outside late venues",
            level=Level.RED,
            issued=datetime(2026, 3, 29, 0, 30, tzinfo=GMT),
            sectors=("night-time",),
            summary="Close doors at 00:30 tonight.",
            body_html="<p>Officers are on scene.</p><hr><p>Update to follow.</p>",
        ),
    ]


def make_context(
    alerts: Sequence[Alert], sectors: Sequence[Sector] = SECTORS, **settings: Any
) -> FeedContext:
    return FeedContext(
        settings=CascadeSettings(**settings),
        sectors={sector.slug: sector for sector in sectors},
        sources=SOURCES,
        provenance=PROVENANCE,
        alerts={alert.id: alert for alert in alerts},
    )


RENDERERS: dict[FeedFormat, Callable[[FeedScope, Sequence[Alert], FeedContext], bytes]] = {
    FeedFormat.ATOM: render_atom,
    FeedFormat.RSS: render_rss,
    FeedFormat.JSON: render_json,
}


@dataclass(frozen=True)
class Rendered:
    """One rendered feed file and what went into it."""

    scope: FeedScope
    fmt: FeedFormat
    entries: tuple[Alert, ...]  # newest first
    data: bytes


def render_all(alerts: Sequence[Alert], ctx: FeedContext) -> list[Rendered]:
    """Every format of every scope, each with the alerts that scope includes."""
    ordered = sorted(alerts, key=newest_first_key)
    out = []
    for scope in all_scopes(list(ctx.sectors.values())):
        members = tuple(alert for alert in ordered if scope.includes(alert))
        for fmt in FORMATS:
            out.append(Rendered(scope, fmt, members, RENDERERS[fmt](scope, members, ctx)))
    return out


@pytest.fixture(scope="session")
def schemas() -> Path:
    if not SCHEMAS.is_dir():
        pytest.fail(f"schema folder {SCHEMAS} is missing: the feed tests need /work/shared/schemas")
    return SCHEMAS


@pytest.fixture(scope="session")
def alerts() -> list[Alert]:
    return sample_alerts()


@pytest.fixture(scope="session")
def ctx(alerts: list[Alert]) -> FeedContext:
    return make_context(alerts)


@pytest.fixture(scope="session")
def rendered(alerts: list[Alert], ctx: FeedContext) -> list[Rendered]:
    return render_all(alerts, ctx)


@pytest.fixture(scope="session")
def atom_feeds(rendered: list[Rendered]) -> list[Rendered]:
    return [feed for feed in rendered if feed.fmt is FeedFormat.ATOM]


@pytest.fixture(scope="session")
def rss_feeds(rendered: list[Rendered]) -> list[Rendered]:
    return [feed for feed in rendered if feed.fmt is FeedFormat.RSS]


@pytest.fixture(scope="session")
def json_feeds(rendered: list[Rendered]) -> list[Rendered]:
    return [feed for feed in rendered if feed.fmt is FeedFormat.JSON]


@pytest.fixture(name="make_alert", scope="session")
def make_alert_fixture() -> Callable[..., Alert]:
    return make_alert


@pytest.fixture(name="make_context", scope="session")
def make_context_fixture() -> Callable[..., FeedContext]:
    return make_context


@pytest.fixture(name="render_all", scope="session")
def render_all_fixture() -> Callable[[Sequence[Alert], FeedContext], list[Rendered]]:
    return render_all


@pytest.fixture(scope="session")
def sectors() -> tuple[Sector, ...]:
    return SECTORS


@pytest.fixture(scope="session")
def templates() -> Path:
    return TEMPLATES
