"""End-to-end: the demo content built with real Pelican, checked page by page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import lxml.html
import pytest

from tests.conftest import DEMO_NOW, ROOT
from tests.site.oracle import Raw, newest_first, read_all, sector_slugs

NOW = datetime.fromisoformat(DEMO_NOW)
Page = Callable[[str], lxml.html.HtmlElement]


@pytest.fixture(scope="module")
def raw() -> list[Raw]:
    return read_all(ROOT / "content")


def listed_ids(tree: lxml.html.HtmlElement, selector: str = "ol.alert-list") -> list[str]:
    ids = []
    for link in tree.cssselect(f"{selector} .alert-title a"):
        href = link.get("href")
        assert href.startswith("/alerts/") and href.endswith("/")
        ids.append(href.split("/")[2])
    return ids


def test_demo_content_meets_the_brief(raw: list[Raw]) -> None:
    assert len(raw) >= 30
    months = {(a.issued.year, a.issued.month) for a in raw}
    assert len(months) >= 6 and len({y for y, _ in months}) >= 2
    assert {a.level for a in raw} == {"red", "amber", "green"}
    sectors = {s for a in raw for s in a.sectors}
    assert "all" in sectors and len(sectors - {"all"}) >= 10
    assert any(a.withdrawn for a in raw)
    assert any(a.meta.get("corrections") and not a.withdrawn for a in raw)
    assert any(name.endswith(".pdf") for a in raw for name in a.meta.get("attachments", []))
    parents = {a.id: a.meta.get("updates") for a in raw}
    assert any(parents.get(parents.get(i) or "") for i in parents), "no thread of three"


def test_home_page_puts_current_red_before_amber(page: Page, raw: list[Raw]) -> None:
    home = page("")
    current = [a for a in raw if a.current(NOW)]
    assert current, "the demo should show current alerts as of DEMO_NOW"
    expected = [
        a.id for a in sorted(current, key=lambda a: (a.level != "red", -a.issued.timestamp(), a.id))
    ]
    assert listed_ids(home, "ol.current-list") == expected
    labels = [t.text_content().strip() for t in home.cssselect("ol.current-list .level")]
    assert labels == [next(a for a in raw if a.id == i).level.upper() + " alert" for i in expected]


def test_home_page_lists_newest_thirty(page: Page, raw: list[Raw]) -> None:
    home = page("")
    latest = home.cssselect("section[aria-labelledby=latest-heading]")[0]
    assert listed_ids(latest) == [a.id for a in newest_first(raw)[:30]]
    assert home.cssselect("a[href='/archive/']")


def test_every_alert_has_its_page(demo_site: Path, raw: list[Raw]) -> None:
    for alert in raw:
        tree = lxml.html.fromstring((demo_site / "alerts" / alert.id / "index.html").read_bytes())
        assert tree.cssselect("h1")[0].text_content() == alert.meta["title"]
        label = tree.cssselect(".alert-level .level")[0].text_content()
        assert label == f"{alert.level.upper()} alert"
        issued = tree.cssselect(".facts time")[0]
        assert datetime.fromisoformat(issued.get("datetime")) == alert.issued
        assert issued.text_content().endswith(("GMT", "BST"))


def test_withdrawn_alert_shows_banner_and_why(page: Page, raw: list[Raw]) -> None:
    for alert in raw:
        tree = page(f"alerts/{alert.id}/")
        banner = tree.cssselect(".banner-withdrawn")
        if alert.withdrawn:
            assert banner, alert.id
            assert alert.meta["corrections"][-1]["note"].strip() in banner[0].text_content()
        else:
            assert not banner, alert.id


def test_expired_alert_shows_expired_banner(page: Page, raw: list[Raw]) -> None:
    expired = [a for a in raw if a.expired(NOW) and not a.withdrawn]
    assert expired
    for alert in expired:
        assert page(f"alerts/{alert.id}/").cssselect(".banner-expired"), alert.id


def test_thread_lists_every_message_in_order(page: Page, raw: list[Raw]) -> None:
    by_id = {a.id: a for a in raw}
    for alert in raw:
        if not alert.meta.get("updates"):
            continue
        root = alert
        while root.meta.get("updates"):
            root = by_id[root.meta["updates"]]
        members = {root.id}
        changed = True
        while changed:
            changed = False
            for other in raw:
                if other.meta.get("updates") in members and other.id not in members:
                    members.add(other.id)
                    changed = True
        expected = sorted(members, key=lambda i: (by_id[i].issued, i))
        thread = page(f"alerts/{alert.id}/").cssselect("section.thread li")
        ids = [
            (li.cssselect("a")[0].get("href").split("/")[2] if li.cssselect("a") else alert.id)
            for li in thread
        ]
        assert ids == expected
        parent = page(f"alerts/{alert.id}/").cssselect("p.follows a")[0]
        assert parent.get("href") == f"/alerts/{alert.meta['updates']}/"


def test_corrections_log_and_attachments(page: Page, raw: list[Raw], demo_site: Path) -> None:
    for alert in raw:
        tree = page(f"alerts/{alert.id}/")
        notes = [li.text_content() for li in tree.cssselect("section.corrections li")]
        assert len(notes) == len(alert.meta.get("corrections", []))
        for note, correction in zip(notes, alert.meta.get("corrections", []), strict=True):
            assert correction["note"].strip() in note
        files = tree.cssselect("section.attachments li")
        assert len(files) == len(alert.meta.get("attachments", []))
        for item, name in zip(files, alert.meta.get("attachments", []), strict=True):
            link = item.cssselect("a")[0]
            assert link.get("href") == f"/attachments/{name}"
            size = (demo_site / "attachments" / name).stat().st_size
            assert size > 0
            assert "PDF" in item.text_content()


@pytest.mark.parametrize("slug", ["retail", "transport", "banking-finance", "media"])
def test_sector_page_lists_its_alerts_and_all(page: Page, raw: list[Raw], slug: str) -> None:
    mine = newest_first([a for a in raw if slug in a.sectors or a.sectors == ["all"]])
    tree = page(f"sectors/{slug}/")
    assert listed_ids(tree) == [a.id for a in mine[:30]]
    years = sorted({a.issued.year for a in mine}, reverse=True)
    for year in years:
        year_page = page(f"sectors/{slug}/{year}/")
        assert listed_ids(year_page) == [a.id for a in mine if a.issued.year == year]


@pytest.mark.parametrize("scope", ["sectors/retail", "sectors/transport", "levels/red"])
def test_year_links_count_on_the_scope_page_and_reach_every_year_from_each_year(
    page: Page, raw: list[Raw], scope: str
) -> None:
    kind, slug = scope.split("/")
    mine = [
        a
        for a in raw
        if (a.level == slug if kind == "levels" else slug in a.sectors or a.sectors == ["all"])
    ]
    counts = {y: sum(a.issued.year == y for a in mine) for y in {a.issued.year for a in mine}}
    years = sorted(counts, reverse=True)
    assert len(years) >= 2
    items = [li.text_content().strip() for li in page(f"{scope}/").cssselect(".year-links li")]
    assert items == [f"{year} ({counts[year]})" for year in years]
    for year in years:
        # No other year's count: one new alert changes its own year's page only.
        tree = page(f"{scope}/{year}/")
        items = [li.text_content().strip() for li in tree.cssselect(".year-links li")]
        assert items == [str(y) for y in years]
        links = {a.get("href") for a in tree.cssselect(".year-links a")}
        assert links == {f"/{scope}/{y}/" for y in years if y != year}
        assert f"All {counts[year]} alerts in {year}" in tree.text_content()


def test_sector_index_links_every_sector(page: Page) -> None:
    slugs = sector_slugs(ROOT / "content")
    assert len(slugs) == 25
    links = {a.get("href") for a in page("sectors/").cssselect(".sector-list a")}
    assert links == {f"/sectors/{slug}/" for slug in slugs}


@pytest.mark.parametrize("level", ["red", "amber", "green"])
def test_level_pages(page: Page, raw: list[Raw], level: str) -> None:
    mine = newest_first([a for a in raw if a.level == level])
    assert listed_ids(page(f"levels/{level}/")) == [a.id for a in mine[:30]]


def test_levels_page_explains_each_level(page: Page) -> None:
    text = page("levels/").text_content()
    for phrase in (
        "A threat to life or to business continuity now.",
        "Act immediately.",
        "An incident in progress or developing.",
        "Be aware and review your plans.",
        "Advice, bulletins, newsletters, fraud and cyber warnings.",
    ):
        assert phrase in text


def test_month_archive_is_complete_and_newest_first(page: Page, raw: list[Raw]) -> None:
    months = sorted({(a.issued.year, a.issued.month) for a in raw}, reverse=True)
    archive_links = [a.get("href") for a in page("archive/").cssselect(".month-links a")]
    assert archive_links == [f"/archive/{y:04d}/{m:02d}/" for y, m in months]
    seen = []
    for year, month in months:
        ids = listed_ids(page(f"archive/{year:04d}/{month:02d}/"))
        expected = [
            a.id for a in newest_first(raw) if (a.issued.year, a.issued.month) == (year, month)
        ]
        assert ids == expected
        seen += ids
    assert sorted(seen) == sorted(a.id for a in raw)


def test_no_pelican_pagination_files(demo_site: Path) -> None:
    names = [p.relative_to(demo_site).as_posix() for p in demo_site.rglob("*.html")]
    assert {n for n in names if not n.endswith("/index.html")} == {"index.html", "404.html"}


def test_pages_carry_security_headers_and_no_inline_script(demo_site: Path) -> None:
    for path in demo_site.rglob("*.html"):
        tree = lxml.html.fromstring(path.read_bytes())
        csp = tree.cssselect("meta[http-equiv='Content-Security-Policy']")
        assert csp and "default-src 'self'" in csp[0].get("content"), path
        assert not tree.cssselect("script"), path
        assert not tree.cssselect("[style]"), path


def test_headers_file_matches_the_page_policy(demo_site: Path) -> None:
    headers = (demo_site / "_headers").read_text()
    meta = lxml.html.fromstring((demo_site / "index.html").read_bytes()).cssselect(
        "meta[http-equiv='Content-Security-Policy']"
    )[0]
    assert f"Content-Security-Policy: {meta.get('content')}; frame-ancestors 'none'" in headers
    assert "X-Content-Type-Options: nosniff" in headers
    assert "Referrer-Policy: strict-origin-when-cross-origin" in headers
