"""Feed scopes: which alerts each feed carries, and where its files and page live."""

from __future__ import annotations

import pytest

from alert_feeds.scopes import FORMATS, FeedFormat, all_scopes
from alerts.model import Level, Sector


@pytest.fixture(scope="module")
def scopes(sectors):
    return {scope.key: scope for scope in all_scopes(sectors)}


def test_scope_keys_in_stable_order(sectors):
    keys = [scope.key for scope in all_scopes(sectors)]
    assert keys[:4] == ["all", "levels/red", "levels/amber", "levels/green"]
    assert keys[4:9] == [
        "sectors/retail",
        "sectors/retail/urgent",
        "sectors/retail/red",
        "sectors/retail/amber",
        "sectors/retail/green",
    ]
    assert len(keys) == 4 + 5 * len(sectors) == len(set(keys))
    assert keys == [scope.key for scope in all_scopes(sectors)]


def test_twenty_five_sectors_give_129_feeds():
    sectors = [Sector(f"s{n}", f"Sector {n}", "") for n in range(25)]
    assert len(all_scopes(sectors)) == 129


@pytest.mark.parametrize("slug", ["all", "retail"])
def test_reserved_or_repeated_sector_is_refused(sectors, slug):
    with pytest.raises(ValueError, match=slug):
        all_scopes([*sectors, Sector(slug, "Again", "")])


@pytest.mark.parametrize(
    ("key", "fmt", "path"),
    [
        ("all", "atom", "feeds/all.atom.xml"),
        ("all", FeedFormat.RSS, "feeds/all.rss.xml"),
        ("levels/red", "json", "feeds/levels/red.json"),
        ("sectors/retail", "atom", "feeds/sectors/retail.atom.xml"),
        ("sectors/retail/amber", "rss", "feeds/sectors/retail/amber.rss.xml"),
        ("sectors/retail/urgent", "atom", "feeds/sectors/retail/urgent.atom.xml"),
        ("sectors/banks/urgent", "json", "feeds/sectors/banks/urgent.json"),
    ],
)
def test_feed_path(scopes, key, fmt, path):
    assert scopes[key].feed_path(fmt) == path


def test_unknown_format_is_refused(scopes):
    with pytest.raises(ValueError):
        scopes["all"].feed_path("xml")


def test_formats():
    assert FORMATS == (FeedFormat.ATOM, FeedFormat.RSS, FeedFormat.JSON)
    assert [f.media_type for f in FORMATS] == [
        "application/atom+xml",
        "application/rss+xml",
        "application/feed+json",
    ]


@pytest.mark.parametrize(
    ("key", "page"),
    [
        ("all", "/"),
        ("levels/green", "/levels/green/"),
        ("sectors/retail", "/sectors/retail/"),
        ("sectors/retail/red", "/sectors/retail/"),
        ("sectors/retail/urgent", "/sectors/retail/"),
    ],
)
def test_page_path(scopes, key, page):
    assert scopes[key].page_path == page


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("all", {"gas-leak", "gas-leak-update", "phishing", "armed-robbery", "late-venue"}),
        ("levels/red", {"armed-robbery", "late-venue"}),
        ("levels/green", {"phishing"}),
        # Sector feeds carry alerts for every sector too.
        ("sectors/retail", {"gas-leak", "gas-leak-update", "phishing", "armed-robbery"}),
        ("sectors/retail/urgent", {"gas-leak", "gas-leak-update", "armed-robbery"}),
        ("sectors/retail/green", {"phishing"}),
        ("sectors/banks", {"phishing", "armed-robbery"}),
        ("sectors/night-time/urgent", {"late-venue"}),
        ("sectors/night-time/amber", set()),
    ],
)
def test_includes(scopes, alerts, key, expected):
    assert {alert.id for alert in alerts if scopes[key].includes(alert)} == expected


def test_urgent_is_red_and_amber(scopes):
    assert scopes["sectors/retail/urgent"].levels == frozenset({Level.RED, Level.AMBER})


def test_titles_name_the_sector_and_level(scopes):
    assert scopes["sectors/banks"].title == 'Banks & "finance" <x>'
    assert scopes["sectors/retail/red"].title == "Retail: RED alerts"
    assert scopes["levels/amber"].title == "AMBER alerts"
    assert all(scope.description for scope in scopes.values())
