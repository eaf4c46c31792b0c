"""Read every alert under content/ into an AlertCollection, or raise every problem found."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import compress
from operator import itemgetter, truth
from pathlib import Path

from .cache import AlertCache
from .collection import AlertCollection, check_cached, with_sizes
from .discover import Stamp, scan_alert_files
from .errors import ContentError, Problem
from .gitcontent import GitContent
from .index import ATTACHMENTS, ID, KEY, Slim
from .journal import collector_paused
from .model import Alert
from .registry import Registry, load_registry


@dataclass(frozen=True)
class LoadedContent:
    registry: Registry
    collection: AlertCollection
    parsed_now: int  # files parsed this run (the rest came from the cache)
    # Slim records of the files that changed since the cache was saved (before, after;
    # None where there was or is no alert), and the build that saved it.
    changes: dict[str, tuple[Slim | None, Slim | None]] = field(default_factory=dict)
    saved_by: str = ""


def load_content(
    content: Path,
    now: datetime,
    future_tolerance: timedelta,
    cache: AlertCache,
    only: set[str] | None = None,
    known_stamps: Mapping[str, Stamp] | GitContent | None = None,
) -> LoadedContent:
    """Validate all of content/; with `only`, report just the problems of those files.

    Every alert is read either way: cross-file rules need the whole set. `known_stamps`:
    see scan_alert_files; or content/ as a tree of HEAD (see gitcontent.py).
    """
    registry = load_registry(content)
    with collector_paused():
        return _load(content, now, future_tolerance, cache, only, registry, known_stamps)


def _load(
    content: Path,
    now: datetime,
    future_tolerance: timedelta,
    cache: AlertCache,
    only: set[str] | None,
    registry: Registry,
    known_stamps: Mapping[str, Stamp] | GitContent | None,
) -> LoadedContent:
    git, walked = (
        (known_stamps, None) if isinstance(known_stamps, GitContent) else (None, known_stamps)
    )
    # Committed content whose last build's entries stand for an earlier tree: git names
    # the files that changed. Otherwise every file's stamp is compared.
    found = cache.scan_git(content, git, registry) if git is not None else None
    if found is not None:
        problems = found
    else:
        stamps, problems = scan_alert_files(content, walked)
        problems.extend(cache.scan(content, stamps, registry, git))
    # Every entry has a slim record unless its file has problems (and the build stops).
    # Newest first, by the records' sort keys (unique strings). C loops only, and as few
    # as can be: every step here runs over the whole archive, whose records at 100,000
    # alerts are more than the processor's caches hold, so that each pass (each dict
    # made most of all) costs a few hundredths of a second.
    unordered_rels = list(cache.fresh)
    unordered = list(map(itemgetter(2), cache.fresh.values()))
    if problems:
        valid = list(map(truth, unordered))
        unordered_rels = list(compress(unordered_rels, valid))
        unordered = list(compress(unordered, valid))
    keys = list(map(itemgetter(KEY), unordered))
    order = sorted(range(len(keys)), key=keys.__getitem__)
    del keys
    rels = list(map(unordered_rels.__getitem__, order))
    ordered = list(map(unordered.__getitem__, order))
    positions = dict(zip(map(itemgetter(ID), ordered), range(len(ordered)), strict=True))

    def line(alert: Alert, field: str) -> int:
        return cache.lines(alert.path).get(field, 1)

    sizes, cross = check_cached(
        ordered, rels, positions, cache.alert, line, now, future_tolerance, content
    )
    problems.extend(cross)
    if only is not None:
        problems = [problem for problem in problems if problem.path in only]
    if problems:
        raise ContentError(problems)

    def make(position: int) -> Alert:
        alert = cache.alert(rels[position])
        return with_sizes(alert, sizes) if ordered[position][ATTACHMENTS] else alert

    collection = AlertCollection.lazily(ordered, make, sizes, positions)
    return LoadedContent(registry, collection, cache.parsed, cache.changes(), cache.generation)


def relative_to_content(content: Path, path: Path) -> str | Problem:
    """`path` as the content-relative name problems use, or why it is not content."""
    try:
        return path.resolve().relative_to(content.resolve()).as_posix()
    except ValueError:
        return Problem(str(path), 1, "file", f"is not inside the content folder {content}")
