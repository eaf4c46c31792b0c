"""Fixtures for the alert parsing tests: a small registry, alert files written as YAML text,
and a content folder in tmp_path.

Test modules reach these through fixtures only: importing `conftest` by name breaks as soon as
another test folder has a conftest.py of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from alerts.errors import Problem
from alerts.model import Sector, Source
from alerts.registry import Registry
from alerts.validate import ParsedAlert, parse_alert_file

# The file every field test writes: issued on 2017-04-20 in its own offset.
ALERT_PATH = "alerts/2017/2017-04-20-oxford-street.md"

# Field: YAML text as an author would write it. Lines 2 to 6 of the file, in this order.
DEFAULT_FIELDS: dict[str, str] = {
    "title": '"Suspect package on Oxford Street"',
    "level": "red",
    "issued": '"2017-04-20T21:30:00+01:00"',
    "sectors": "[retail, banking]",
    "source": "met",
}
DEFAULT_BODY = (
    "Shops between Holles Street and Marlowe Court are being evacuated while officers "
    "examine a suspicious holdall.\n"
    "\n"
    "## What to do\n"
    "\n"
    "- Follow the directions of officers at the cordon.\n"
    "- Do not return to collect belongings.\n"
)

SECTORS_YML = """\
- slug: retail
  name: Retail
  description: Shops and shopping centres.
- slug: banking
  name: Banking and finance
  description: Banks and building societies.
- slug: night-time
  name: Night-time economy
  description: Pubs, bars and clubs.
"""
SOURCES_YML = """\
- slug: met
  name: Metropolitan Police Service
  url: https://www.met.police.uk
- slug: tfl
  name: Transport for London
"""

MakeAlert = Callable[..., bytes]
Parse = Callable[..., ParsedAlert | list[Problem]]


def alert_text(body: str = DEFAULT_BODY, **fields: str | None) -> str:
    """An alert file: the default fields with `fields` applied, then `body`.

    A value is YAML text written after `name: `; None leaves the field out. Fields not in
    DEFAULT_FIELDS follow the defaults, from line 7, in the order given.
    """
    merged: dict[str, str | None] = {**DEFAULT_FIELDS, **fields}
    lines = ["---"]
    lines += [f"{name}: {value}" for name, value in merged.items() if value is not None]
    lines.append("---")
    return "\n".join(lines) + "\n" + body


@pytest.fixture(scope="session")
def make_alert() -> MakeAlert:
    """`make_alert(body=..., **fields) -> bytes`: see alert_text."""

    def make(body: str = DEFAULT_BODY, **fields: str | None) -> bytes:
        return alert_text(body, **fields).encode("utf-8")

    return make


@pytest.fixture(scope="session")
def registry() -> Registry:
    """What SECTORS_YML and SOURCES_YML load to."""
    return Registry(
        sectors={
            "retail": Sector("retail", "Retail", "Shops and shopping centres."),
            "banking": Sector("banking", "Banking and finance", "Banks and building societies."),
            "night-time": Sector("night-time", "Night-time economy", "Pubs, bars and clubs."),
        },
        sources={
            "met": Source("met", "Metropolitan Police Service", "https://www.met.police.uk"),
            "tfl": Source("tfl", "Transport for London", None),
        },
    )


@pytest.fixture(scope="session")
def parse(registry: Registry) -> Parse:
    """`parse(raw, path=ALERT_PATH)`: parse_alert_file against the test registry."""

    def run(raw: bytes, path: str = ALERT_PATH) -> ParsedAlert | list[Problem]:
        return parse_alert_file(raw, path, registry)

    return run


@pytest.fixture(scope="session")
def alert_path() -> str:
    return ALERT_PATH


@pytest.fixture(scope="session")
def default_body() -> str:
    return DEFAULT_BODY


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """An empty content folder with the test registry, alerts/ and attachments/."""
    root = tmp_path / "content"
    (root / "alerts").mkdir(parents=True)
    (root / "attachments").mkdir()
    (root / "sectors.yml").write_text(SECTORS_YML, encoding="utf-8")
    (root / "sources.yml").write_text(SOURCES_YML, encoding="utf-8")
    return root
