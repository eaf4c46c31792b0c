"""Fixtures shared by every kind of test: paths, the demo content, a built demo site."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import lxml.html
import pytest

import publish

ROOT = Path(__file__).resolve().parent.parent


def _find_shared() -> Path:
    """The shared schemas and test data: CASCADE_SHARED if set, else beside the checkout (as
    in CI), else beside the repository this one was cloned from (a clone in a temp folder)."""
    if os.environ.get("CASCADE_SHARED"):
        return Path(os.environ["CASCADE_SHARED"])
    beside = ROOT.parent / "shared"
    if beside.is_dir():
        return beside
    origin = subprocess.run(
        ["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        candidate = Path(origin).resolve().parent / "shared"
        if candidate.is_dir():
            return candidate
    return beside


SHARED = _find_shared()
DEMO_NOW = "2026-11-20T09:00:00+00:00"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "schemas").is_dir():
        pytest.fail(f"the shared folder with schemas and test data is missing: {SHARED}")
    return SHARED


def copy_content(target: Path) -> Path:
    """A private copy of the demo content, so no test writes into the working tree."""
    content = target / "content"
    shutil.copytree(ROOT / "content", content)
    return content


def build(content: Path, output: Path, *extra: str, now: str = DEMO_NOW) -> int:
    return publish.main(
        ["build", "--content", str(content), "--output", str(output), "--now", now, *extra]
    )


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo content built once, as `make build` builds it."""
    base = tmp_path_factory.mktemp("demo")
    content = copy_content(base)
    output = base / "output"
    assert build(content, output) == 0
    return output


@pytest.fixture(scope="session")
def page(demo_site: Path) -> Callable[[str], lxml.html.HtmlElement]:
    def parse(path: str) -> lxml.html.HtmlElement:
        file = demo_site / path
        if file.is_dir() or path.endswith("/") or path == "":
            file = file / "index.html"
        return lxml.html.fromstring(file.read_bytes())

    return parse
