"""Write a new, valid alert file from a few answers (publish.py new)."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .errors import CascadeError
from .model import Level


@dataclass(frozen=True)
class NewAlert:
    title: str
    level: Level
    sectors: tuple[str, ...]
    sources: tuple[str, ...]
    issued: datetime
    summary: str | None = None
    topics: tuple[str, ...] = ()
    updates: str | None = None


def slugify(title: str, limit: int = 60) -> str:
    """A lower-case [a-z0-9-] slug from a title (accents folded, everything else dropped)."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    if len(slug) > limit:
        # One character more shows whether the cut falls between words; a single word
        # longer than the limit is cut mid-word.
        head = slug[: limit + 1]
        slug = head.rsplit("-", 1)[0] if "-" in head else slug[:limit]
    return slug.strip("-") or "alert"


# JSON leaves these as they are, but YAML cannot read them raw: DEL and C1 controls are not
# printable to it, and NEL, LS and PS are line breaks.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


def _quoted(value: str) -> str:
    # JSON strings are valid YAML double-quoted scalars: nothing in them is reinterpreted.
    text = json.dumps(value, ensure_ascii=False)
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render_skeleton(new: NewAlert) -> str:
    lines = [
        "---",
        f"title: {_quoted(new.title)}",
        f"level: {_quoted(new.level.value)}",
        f"issued: {_quoted(new.issued.isoformat(timespec='seconds'))}",
        f"sectors: [{', '.join(_quoted(s) for s in new.sectors)}]",
        "source: "
        + (
            _quoted(new.sources[0])
            if len(new.sources) == 1
            else f"[{', '.join(_quoted(s) for s in new.sources)}]"
        ),
    ]
    if new.summary:
        lines.append(f"summary: {_quoted(new.summary)}")
    if new.topics:
        lines.append(f"topics: [{', '.join(_quoted(t) for t in new.topics)}]")
    if new.updates:
        lines.append(f"updates: {_quoted(new.updates)}")
    lines += [
        "---",
        "",
        "Write the first paragraph so it can stand alone: it is the summary people see in "
        "lists and feeds. Say what has happened, where, and what to do.",
        "",
        "## What to do",
        "",
        "- Replace this list with the actions staff should take.",
        "",
    ]
    return "\n".join(lines)


def skeleton_path(content: Path, new: NewAlert) -> Path:
    day = new.issued.date().isoformat()
    return content / "alerts" / day[:4] / day[5:7] / f"{day}-{slugify(new.title)}.md"


def write_skeleton(content: Path, new: NewAlert) -> Path:
    path = skeleton_path(content, new)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # "x" refuses an existing file, and a symbolic link even when it leads nowhere.
        with path.open("x", encoding="utf-8", newline="\n") as handle:
            handle.write(render_skeleton(new))
    except FileExistsError:
        raise CascadeError(f"{path} already exists; choose another title") from None
    return path
