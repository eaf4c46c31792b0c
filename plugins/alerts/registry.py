"""Load the sector and source lists (content/sectors.yml, content/sources.yml)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ContentError, Problem
from .frontmatter import FrontMatterError, decode, load_strict
from .model import ALL_SECTORS, Sector, Source

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SECTORS_FILE = "sectors.yml"
SOURCES_FILE = "sources.yml"


@dataclass(frozen=True)
class Registry:
    """The sectors and sources alerts may name, in the order their files list them."""

    sectors: Mapping[str, Sector]
    sources: Mapping[str, Source]

    def sector_name(self, slug: str) -> str:
        if slug == ALL_SECTORS:
            return "All sectors"
        sector = self.sectors.get(slug)
        return sector.name if sector else slug

    def source_name(self, slug: str) -> str:
        source = self.sources.get(slug)
        return source.name if source else slug


def load_registry(content: Path) -> Registry:
    """Read both lists; raises ContentError listing every problem in either file."""
    problems: list[Problem] = []
    sector_rows = _read_list(content / SECTORS_FILE, ("slug", "name", "description"), (), problems)
    source_rows = _read_list(content / SOURCES_FILE, ("slug", "name"), ("url",), problems)
    sectors = {
        row["slug"]: Sector(row["slug"], row["name"], row["description"]) for row in sector_rows
    }
    if ALL_SECTORS in sectors:
        problems.append(
            Problem(SECTORS_FILE, 1, "slug", f"'{ALL_SECTORS}' is reserved for every sector")
        )
    sources = {row["slug"]: Source(row["slug"], row["name"], row.get("url")) for row in source_rows}
    if problems:
        raise ContentError(problems)
    return Registry(sectors=sectors, sources=sources)


def _read_list(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    problems: list[Problem],
) -> list[dict[str, str]]:
    name = path.name
    try:
        data: Any = load_strict(decode(path.read_bytes()), what="file")
    except FileNotFoundError:
        problems.append(Problem(name, 1, "file", "is missing (it lists what alerts may name)"))
        return []
    except OSError as exc:  # a folder, or unreadable
        problems.append(Problem(name, 1, "file", f"cannot be read ({exc.strerror})"))
        return []
    except FrontMatterError as exc:
        problems.append(Problem(name, exc.line, exc.field, exc.message))
        return []
    if not isinstance(data, list) or not data:
        problems.append(Problem(name, 1, "file", "must be a non-empty YAML list of mappings"))
        return []
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    allowed = set(required) | set(optional)
    for index, item in enumerate(data, start=1):
        where = f"entry {index}"
        if not isinstance(item, dict):
            problems.append(Problem(name, 1, where, "must be a mapping"))
            continue
        bad = False
        for key in sorted(set(item) - allowed):
            problems.append(
                Problem(
                    name,
                    1,
                    f"{where}.{key}",
                    f"unknown field (allowed: {', '.join(sorted(allowed))})",
                )
            )
            bad = True
        for key in required:
            if not isinstance(item.get(key), str) or not item[key].strip():
                problems.append(Problem(name, 1, f"{where}.{key}", "is required and must be text"))
                bad = True
        for key in optional:
            if key in item and not isinstance(item[key], str):
                problems.append(Problem(name, 1, f"{where}.{key}", "must be text"))
                bad = True
        url = item.get("url")
        if isinstance(url, str) and not url.strip().lower().startswith(("https://", "http://")):
            # Pages link to it: "javascript:..." here would run in every reader's browser.
            problems.append(
                Problem(
                    name,
                    1,
                    f"{where}.url",
                    f"{url!r} is not a web address (allowed: http(s)://...)",
                )
            )
            bad = True
        slug = item.get("slug")
        if isinstance(slug, str):
            if not SLUG.fullmatch(slug):
                problems.append(
                    Problem(
                        name,
                        1,
                        f"{where}.slug",
                        f"{slug!r} is not a slug (lower-case a-z, 0-9, single hyphens)",
                    )
                )
                bad = True
            elif slug in seen:
                problems.append(Problem(name, 1, f"{where}.slug", f"duplicate slug {slug!r}"))
                bad = True
            seen.add(slug)
        if not bad:
            rows.append({key: str(value).strip() for key, value in item.items()})
    return rows
