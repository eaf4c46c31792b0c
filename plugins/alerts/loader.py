"""Read every alert under content/ into an AlertCollection, or raise every problem found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .cache import AlertCache
from .collection import AlertCollection, check_alerts
from .discover import scan_alert_files
from .errors import ContentError, Problem
from .model import Alert
from .registry import Registry, load_registry


@dataclass(frozen=True)
class LoadedContent:
    registry: Registry
    collection: AlertCollection
    parsed_now: int  # files parsed this run (the rest came from the cache)


def load_content(
    content: Path,
    now: datetime,
    future_tolerance: timedelta,
    cache: AlertCache,
    only: set[str] | None = None,
) -> LoadedContent:
    """Validate all of content/; with `only`, report just the problems of those files.

    Every alert is read either way: cross-file rules need the whole set.
    """
    registry = load_registry(content)
    stamps, problems = scan_alert_files(content)
    read: list[Alert] = []
    for result in cache.read(content, list(stamps), registry, stamps):
        if isinstance(result, list):
            problems.extend(result)
        else:
            read.append(result)

    def line(alert: Alert, field: str) -> int:
        return cache.lines(alert.path).get(field, 1)

    alerts, cross = check_alerts(read, line, now, future_tolerance, content)
    problems.extend(cross)
    if only is not None:
        problems = [problem for problem in problems if problem.path in only]
    if problems:
        raise ContentError(problems)
    return LoadedContent(registry, AlertCollection.of(alerts), cache.parsed)


def relative_to_content(content: Path, path: Path) -> str | Problem:
    """`path` as the content-relative name problems use, or why it is not content."""
    try:
        return path.resolve().relative_to(content.resolve()).as_posix()
    except ValueError:
        return Problem(str(path), 1, "file", f"is not inside the content folder {content}")
