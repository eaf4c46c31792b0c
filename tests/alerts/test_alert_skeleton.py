"""skeleton: `publish.py new` writes a file that already passes validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerts.errors import CascadeError, Problem
from alerts.model import Level
from alerts.registry import load_registry
from alerts.skeleton import NewAlert, render_skeleton, skeleton_path, slugify, write_skeleton
from alerts.validate import ParsedAlert, parse_alert_file

BST = timezone(timedelta(hours=1))
ISSUED = datetime(2017, 4, 20, 21, 30, tzinfo=BST)

NASTY_TITLES = [
    "NO",
    "yes",
    "null",
    "~",
    "0755",
    "1e3",
    ": colon at the start",
    "Key: value inside",
    '"Quoted" and \\ backslash',
    "'single' quotes",
    "# hash at the start",
    "@at sign",
    "`backtick`",
    "!tag-like",
    "&anchor-like *alias-like",
    "- dash like a list",
    "[brackets] and {braces}",
    "% percent | pipe > gt",
    "--- three dashes",
    "Café ☕ — שלום — مرحبا — 東京 — 😀",
    "   padded   ",
]


def new_alert(title: str, **fields: object) -> NewAlert:
    values: dict[str, object] = {
        "title": title,
        "level": Level.AMBER,
        "sectors": ("retail",),
        "sources": ("met",),
        "issued": ISSUED,
        **fields,
    }
    return NewAlert(**values)  # type: ignore[arg-type]


def validate(content: Path, path: Path) -> ParsedAlert | list[Problem]:
    return parse_alert_file(
        path.read_bytes(), path.relative_to(content).as_posix(), load_registry(content)
    )


@pytest.mark.parametrize("title", NASTY_TITLES)
def test_written_file_passes_validation_for_nasty_titles(content: Path, title: str) -> None:
    path = write_skeleton(content, new_alert(title))
    result = validate(content, path)
    assert isinstance(result, ParsedAlert), result
    assert result.alert.title == title.strip()
    assert result.alert.level is Level.AMBER
    assert result.alert.issued == ISSUED


def test_every_optional_field_round_trips(content: Path) -> None:
    new = new_alert(
        "Cordon widened",
        sectors=("retail", "banking"),
        sources=("met", "tfl"),
        summary='Shops: "evacuate" now # not a comment',
        topics=("terrorism", "evacuation"),
        updates="2017-04-20-first-report",
    )
    result = validate(content, write_skeleton(content, new))
    assert isinstance(result, ParsedAlert), result
    alert = result.alert
    assert alert.id == "2017-04-20-cordon-widened"
    assert alert.sectors == ("retail", "banking")
    assert alert.sources == ("met", "tfl")
    assert alert.summary == 'Shops: "evacuate" now # not a comment'
    assert alert.topics == ("terrorism", "evacuation")
    assert alert.updates == "2017-04-20-first-report"


def test_all_sectors(content: Path) -> None:
    result = validate(content, write_skeleton(content, new_alert("x", sectors=("all",))))
    assert isinstance(result, ParsedAlert), result
    assert result.alert.for_all_sectors


def test_file_lands_under_the_date_in_its_own_offset(content: Path) -> None:
    late = datetime(2017, 4, 20, 0, 30, tzinfo=BST)  # still the 19th in UTC
    path = write_skeleton(content, new_alert("Late night", issued=late))
    assert path == content / "alerts" / "2017" / "04" / "2017-04-20-late-night.md"
    assert isinstance(validate(content, path), ParsedAlert)


def test_new_year_goes_in_the_new_years_folder(content: Path) -> None:
    issued = datetime(2018, 1, 1, 0, 5, tzinfo=UTC)
    assert skeleton_path(content, new_alert("Fireworks", issued=issued)) == (
        content / "alerts" / "2018" / "01" / "2018-01-01-fireworks.md"
    )


def test_each_month_has_its_folder(content: Path) -> None:
    issued = datetime(2018, 11, 30, 23, 55, tzinfo=UTC)
    assert skeleton_path(content, new_alert("Late", issued=issued)) == (
        content / "alerts" / "2018" / "11" / "2018-11-30-late.md"
    )


def test_an_existing_file_is_never_overwritten(content: Path) -> None:
    path = write_skeleton(content, new_alert("Cordon"))
    path.write_text("edited by hand")
    with pytest.raises(CascadeError, match="already exists; choose another title"):
        write_skeleton(content, new_alert("Cordon"))
    assert path.read_text() == "edited by hand"


def test_a_dangling_link_in_the_way_is_not_written_through(content: Path, tmp_path: Path) -> None:
    target = tmp_path / "written-through.txt"
    path = skeleton_path(content, new_alert("Cordon"))
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    with pytest.raises(CascadeError):
        write_skeleton(content, new_alert("Cordon"))
    assert not target.exists()


def test_render_skeleton_is_valid_yaml_front_matter_with_lf_endings() -> None:
    text = render_skeleton(new_alert("Cordon", topics=("a",)))
    assert text.startswith("---\ntitle: ")
    assert "\r" not in text
    assert text.count("\n---\n") == 1


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029", "\x7f", "\x9b", "\x01"])
def test_invisible_characters_are_escaped_so_the_file_reports_them_by_field(
    content: Path, char: str
) -> None:
    path = write_skeleton(content, new_alert(f"Bad{char}title"))
    text = path.read_text(encoding="utf-8")
    assert char not in text
    result = validate(content, path)
    assert result == [
        Problem(
            path.relative_to(content).as_posix(),
            2,
            "title",
            f"contains control or bidirectional character U+{ord(char):04X} (remove it)",
        )
    ]


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Suspect package on Oxford Street", "suspect-package-on-oxford-street"),
        ("  Leading & trailing!  ", "leading-trailing"),
        ("Café naïve façade", "cafe-naive-facade"),
        ("Ünïcödé \u2014 dashes \u2013 and \u201cquotes\u201d", "unicode-dashes-and-quotes"),
        ("Under_score and CAPS", "under-score-and-caps"),
        ("2017: a year", "2017-a-year"),
        ("东京", "alert"),
        ("!!!", "alert"),
        ("", "alert"),
        ("ﬁre (ligature)", "fire-ligature"),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_slugify_cuts_long_titles_at_a_word_boundary() -> None:
    title = " ".join(["evacuation"] * 10)  # 109 characters as a slug
    slug = slugify(title)
    assert len(slug) <= 60
    assert slug == "-".join(["evacuation"] * 5)


def test_slugify_keeps_a_word_that_ends_exactly_at_the_limit() -> None:
    title = "a" * 30 + " " + "b" * 29 + " ccc"  # the 60th character ends the b-word
    assert slugify(title) == "a" * 30 + "-" + "b" * 29


def test_slugify_cuts_one_long_word() -> None:
    assert slugify("x" * 80) == "x" * 60
    assert slugify("x" * 80, limit=10) == "x" * 10


@pytest.mark.parametrize("title", [*NASTY_TITLES, "a" * 200, "word " * 40])
def test_slug_always_makes_a_valid_id(title: str) -> None:
    from alerts.validate import alert_id_problems

    slug = slugify(title)
    assert len(slug) <= 60
    assert alert_id_problems(f"alerts/2017/2017-04-20-{slug}.md") == []
