"""registry: sectors.yml and sources.yml, read as strictly as alert front-matter."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.errors import ContentError, Problem
from alerts.registry import Registry, load_registry


def registry_problems(content: Path) -> list[Problem]:
    with pytest.raises(ContentError) as caught:
        load_registry(content)
    return caught.value.problems


def test_the_test_registry_loads(content: Path, registry: Registry) -> None:
    loaded = load_registry(content)
    assert loaded == registry
    assert list(loaded.sectors) == ["retail", "banking", "night-time"]
    assert loaded.sector_name("all") == "All sectors"
    assert loaded.sector_name("retail") == "Retail"
    assert loaded.sector_name("unknown") == "unknown"
    assert loaded.source_name("tfl") == "Transport for London"


def test_missing_files_are_both_reported(tmp_path: Path) -> None:
    assert registry_problems(tmp_path) == [
        Problem("sectors.yml", 1, "file", "is missing (it lists what alerts may name)"),
        Problem("sources.yml", 1, "file", "is missing (it lists what alerts may name)"),
    ]


def test_a_folder_in_place_of_the_file_is_a_problem_not_a_crash(content: Path) -> None:
    (content / "sources.yml").unlink()
    (content / "sources.yml").mkdir()
    assert registry_problems(content) == [
        Problem("sources.yml", 1, "file", "cannot be read (Is a directory)")
    ]


def test_all_is_reserved(content: Path) -> None:
    (content / "sectors.yml").write_text("- {slug: all, name: All, description: x}\n")
    assert registry_problems(content) == [
        Problem("sectors.yml", 1, "slug", "'all' is reserved for every sector")
    ]


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("[]", Problem("sources.yml", 1, "file", "must be a non-empty YAML list of mappings")),
        ("- met", Problem("sources.yml", 1, "entry 1", "must be a mapping")),
        (
            "- {slug: met, name: Met, colour: blue}",
            Problem("sources.yml", 1, "entry 1.colour", "unknown field (allowed: name, slug, url)"),
        ),
        ("- {slug: met}", Problem("sources.yml", 1, "entry 1.name", "is required and must be text")),
        (
            "- {slug: Met, name: Met}",
            Problem(
                "sources.yml",
                1,
                "entry 1.slug",
                "'Met' is not a slug (lower-case a-z, 0-9, single hyphens)",
            ),
        ),
        (
            "- {slug: met, name: Met}\n- {slug: met, name: Again}",
            Problem("sources.yml", 1, "entry 2.slug", "duplicate slug 'met'"),
        ),
        ("- {slug: met, name: Met, url: 5}", Problem("sources.yml", 1, "entry 1.url", "must be text")),
        (
            "- {slug: met, name: Met, url: 'javascript:alert(1)'}",
            Problem(
                "sources.yml",
                1,
                "entry 1.url",
                "'javascript:alert(1)' is not a web address (allowed: http(s)://...)",
            ),
        ),
        (
            "- {slug: met, name: NO}",
            Problem("sources.yml", 1, "entry 1.name", "is required and must be text"),
        ),
        (
            "- &a {slug: met, name: Met}",
            Problem("sources.yml", 1, "file", "anchors (&name) are not allowed"),
        ),
        (
            "- {slug: met, name: Met, name: Again}",
            Problem("sources.yml", 1, "file", "duplicate key 'name'"),
        ),
    ],
    ids=["empty", "not-mapping", "unknown-field", "no-name", "bad-slug", "duplicate",
         "url-number", "url-javascript", "name-NO", "anchor", "duplicate-key"],
)  # fmt: skip
def test_source_file_rules(content: Path, yaml_text: str, problem: Problem) -> None:
    (content / "sources.yml").write_text(yaml_text)
    assert registry_problems(content) == [problem]


def test_registry_files_may_carry_a_bom_and_crlf(content: Path, registry: Registry) -> None:
    for name in ("sectors.yml", "sources.yml"):
        path = content / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert load_registry(content) == registry
