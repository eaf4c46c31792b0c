"""Pages as a reader's browser shows them: real headless Chromium over HTTP."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from tests.browser.chromium import dom, run, serve
from tests.conftest import ROOT
from tests.site.oracle import read_all

pytestmark = pytest.mark.browser


def test_home_and_alert_page_render_level_and_title(demo_site: Path, tmp_path: Path) -> None:
    alerts = {a.id: a for a in read_all(ROOT / "content")}
    with serve(demo_site) as base:
        home = lxml.html.fromstring(dom(base + "/"))
        first = home.cssselect("ol.current-list li")[0]
        link = first.cssselect(".alert-title a")[0]
        alert = alerts[link.get("href").split("/")[2]]
        assert first.cssselect(".level")[0].text_content() == f"{alert.level.upper()} alert"
        assert link.text_content() == alert.meta["title"]

        page = lxml.html.fromstring(dom(base + link.get("href")))
        assert page.cssselect("h1")[0].text_content() == alert.meta["title"]
        assert (
            page.cssselect(".alert-level .level")[0].text_content()
            == f"{alert.level.upper()} alert"
        )

        shot = tmp_path / "alert.png"
        run(base + link.get("href"), f"--screenshot={shot}", "--window-size=1000,1400")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
