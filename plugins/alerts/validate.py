"""Validate one alert file's front-matter and body into an Alert, or every problem found."""

from __future__ import annotations

import difflib
import mimetypes
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

from .discover import ALERTS_DIR
from .errors import Problem
from .frontmatter import FrontMatterError, SourceFile, read_source
from .markup import SUMMARY_LIMIT, cut_summary, render_body
from .model import ALL_SECTORS, Alert, Attachment, Correction, Level, Status
from .registry import SLUG, Registry

TITLE_LIMIT = 150
REQUIRED = ("title", "level", "issued", "sectors", "source")
OPTIONAL = (
    "summary", "updates", "expires", "status", "corrections", "attachments", "topics",
)  # fmt: skip
FIELDS = REQUIRED + OPTIONAL
# [0-9], not \d: \d also matches Arabic-Indic and other digits, and ids are ASCII.
ID_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})-[a-z0-9]+(?:-[a-z0-9]+)*")
DATETIME_EXAMPLE = "like 2017-04-20T21:30:00+01:00"
# Control characters and bidirectional overrides: invisible, and able to make a title
# read differently from what was approved.
# The line and paragraph separators U+2028/9 are invisible line breaks in one-line text.
_FORBIDDEN_IN_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FORBIDDEN_IN_NOTE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
# What XML 1.0 cannot carry; bodies end up in feeds.
_FORBIDDEN_IN_BODY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class ParsedAlert:
    """A valid alert and the file line of each front-matter key (for cross-file messages)."""

    alert: Alert
    lines: Mapping[str, int]

    def line(self, field: str) -> int:
        return self.lines.get(field, 1)


# Where alert files live. A folder per month keeps each folder to a few hundred files: git
# compares the folders a commit touches entry by entry, so an audit of the whole history
# costs git about five times less than with a folder per year (README, "The alert file").
# Year folders stay valid because an alert never moves once published (a rename breaks the
# append-only rule), so files written before month folders stay where they are.
ALERT_PLACE = "alerts/YYYY/MM/YYYY-MM-DD-slug.md"
_EARLIER_PLACE = "alerts/YYYY/YYYY-MM-DD-slug.md"
_NAME_RULE = "YYYY-MM-DD-slug.md, lower-case letters, digits and single hyphens"


def alert_id_problems(path: str) -> list[Problem]:
    """Where the file lives and what it is called: content/alerts/YYYY/MM/YYYY-MM-DD-slug.md
    (or content/alerts/YYYY/YYYY-MM-DD-slug.md, the layout before month folders)."""
    parts = PurePosixPath(path).parts
    name = PurePosixPath(path).name
    if len(parts) not in (3, 4) or parts[0] != ALERTS_DIR or not path.endswith(".md"):
        where = f"alert files live at {ALERT_PLACE} (or {_EARLIER_PLACE} if written there before)"
        return [Problem(path, 1, "id", where)]
    match = ID_PATTERN.fullmatch(PurePosixPath(path).stem)
    if not match:
        return [Problem(path, 1, "id", f"file name {name!r} is not {_NAME_RULE}")]
    year, month, _ = match.groups()
    try:
        date.fromisoformat(name[:10])
    except ValueError:
        return [
            Problem(path, 1, "id", f"file name date {name[:10]} is not a real date ({_NAME_RULE})")
        ]
    folder = "/".join(parts[1:-1])
    if folder not in (f"{year}/{month}", year):
        return [
            Problem(
                path,
                1,
                "id",
                f"is in folder {folder!r} but dated {name[:10]} (move it to alerts/{year}/{month}/)",
            )
        ]
    return []


def parse_alert_file(raw: bytes, path: str, registry: Registry) -> ParsedAlert | list[Problem]:
    """Everything about one file that needs no other file: bytes in, Alert or problems out."""
    problems = alert_id_problems(path)
    try:
        source = read_source(raw)
    except FrontMatterError as exc:
        return [*problems, Problem(path, exc.line, exc.field, exc.message)]
    parsed = parse_alert(source, path, registry)
    if isinstance(parsed, list):
        return problems + parsed
    return problems or parsed


def parse_alert(source: SourceFile, path: str, registry: Registry) -> ParsedAlert | list[Problem]:
    """Validate front-matter and body. Returns every problem at once, never the first only."""
    v = _Validator(source, path)
    meta = source.metadata
    for key in meta:
        if key not in FIELDS:
            hint = difflib.get_close_matches(key, FIELDS, n=1)
            also = f"; did you mean {hint[0]!r}?" if hint else ""
            # Quoted when blank or holding invisible characters, so each problem stays one
            # readable line.
            shown = key if key.isprintable() and key.strip() == key != "" else repr(key)
            message = f"unknown field (allowed: {', '.join(FIELDS)}){also}"
            v.problem(shown, message, line=source.lines.get(key, 1))
    for key in REQUIRED:
        if key not in meta:
            v.problem(key, f"is required ({_ALLOWED[key]})", line=1)

    title = v.text("title", TITLE_LIMIT, required=True)
    level = v.choice("level", Level)
    issued = v.date_time("issued")
    sectors = v.sectors(registry)
    sources = v.slugs("source", allowed=registry.sources, allow_single=True)
    summary = v.text("summary", SUMMARY_LIMIT, required=False)
    updates = v.reference("updates")
    expires = v.date_time("expires")
    status = v.choice("status", Status) if "status" in meta else Status.ACTIVE
    corrections = v.corrections(issued)
    attachments = v.attachment_names()
    topics = v.slugs("topics", allowed=None, allow_single=False)

    stem = PurePosixPath(path).stem
    match = ID_PATTERN.fullmatch(stem)
    if issued and match and issued.date().isoformat() != stem[:10]:
        v.problem(
            "issued",
            f"is dated {issued.date().isoformat()} in its own offset but the file name says "
            f"{stem[:10]} (the id's date must equal the date issued)",
        )
    if expires and issued and expires <= issued:
        v.problem("expires", "must be later than issued")
    if updates is not None and updates == stem:
        v.problem("updates", "an alert cannot update itself")
    if status is Status.WITHDRAWN and not corrections and "corrections" not in v.failed:
        v.problem(
            "status",
            "withdrawn needs at least one corrections entry saying why "
            "(corrections: [{at: ..., note: ...}])",
        )

    body = render_body(source.body)
    bad_char = _FORBIDDEN_IN_BODY.search(source.body)
    if bad_char:
        line = source.body_line + source.body[: bad_char.start()].count("\n")
        v.problem(
            "body",
            f"contains control character U+{ord(bad_char.group()):04X} (remove it)",
            line=line,
        )
    if not body.text and status is not Status.WITHDRAWN:
        v.problem(
            "body", "is empty (only a withdrawn alert may have no body)", line=source.body_line
        )
    default_summary = cut_summary(body.first_paragraph) if "summary" not in meta else None
    bad_summary = _FORBIDDEN_IN_TEXT.search(default_summary or "")
    if bad_summary:
        v.problem(
            "body",
            "the first paragraph, used as the summary, contains control or bidirectional "
            f"character U+{ord(bad_summary.group()):04X} (remove it, or write a summary)",
            line=source.body_line,
        )
    if body.images:
        v.problem(
            "body",
            "contains an image (images are not allowed in alert bodies; add the file to "
            "attachments instead)",
            line=source.body_line,
        )

    if v.problems:
        return v.problems
    assert title is not None and level is not None and issued is not None
    assert sectors is not None and sources is not None and status is not None
    alert = Alert(
        id=stem,
        path=path,
        title=title,
        level=level,
        issued=issued,
        sectors=sectors,
        sources=sources,
        summary=summary if summary is not None else default_summary or "",
        body_html=body.html,
        updates=updates,
        expires=expires,
        status=status,
        corrections=corrections,
        attachments=tuple(Attachment(name, 0, _media_type(name)) for name in attachments),
        topics=topics or (),
    )
    return ParsedAlert(alert=alert, lines=dict(source.lines))


def _media_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


_ALLOWED = {
    "title": f"plain text, 1 to {TITLE_LIMIT} characters",
    "level": "red, amber or green",
    "issued": f"an ISO 8601 date-time with a UTC offset, {DATETIME_EXAMPLE}",
    "sectors": "a list of sector slugs from sectors.yml, or [all]",
    "source": "a source slug from sources.yml, or a list of them",
}


class _Validator:
    """Collects problems while reading fields; each reader returns None when its field is bad."""

    def __init__(self, source: SourceFile, path: str) -> None:
        self.meta: dict[str, Any] = source.metadata
        self.spellings = source.spellings
        self.lines = source.lines
        self.path = path
        self.problems: list[Problem] = []
        self.failed: set[str] = set()

    def problem(self, field: str, message: str, line: int | None = None) -> None:
        self.failed.add(field.split("[")[0])
        self.problems.append(
            Problem(
                self.path, line if line is not None else self.lines.get(field, 1), field, message
            )
        )

    def text(self, field: str, limit: int, required: bool) -> str | None:
        if field not in self.meta:
            return None
        value = self.meta[field]
        shown = self.spellings.get(field)
        if value is None and shown == "":
            value = ""  # "title:" with nothing after it
        if not isinstance(value, str):
            if shown is None:  # a list or a mapping: quoting it would not help
                self.problem(field, f"must be text, not {_type_name(value)}")
            else:
                self.problem(
                    field,
                    f"must be text, but YAML reads {shown} as {_type_name(value)} "
                    f'(put it in quotes: {field}: "{shown}")',
                )
            return None
        value = value.strip()
        if not value:
            allowed = (
                _ALLOWED[field]
                if required
                else f"up to {limit} characters, or leave {field} out to use the default"
            )
            self.problem(field, f"is empty ({allowed})")
            return None
        if len(value) > limit:
            self.problem(field, f"is {len(value)} characters long (at most {limit})")
            return None
        bad = _FORBIDDEN_IN_TEXT.search(value)
        if bad:
            self.problem(
                field,
                f"contains control or bidirectional character U+{ord(bad.group()):04X} (remove it)",
            )
            return None
        return value

    def choice(self, field: str, enum: type[Level] | type[Status]) -> Any:
        if field not in self.meta:
            return None
        value = self.meta[field]
        allowed = ", ".join(member.value for member in enum)
        for member in enum:
            if value == member.value:
                return member
        shown = self.spellings.get(field, _yaml_spelling(value))
        self.problem(field, f"{shown!r} is not allowed (allowed: {allowed})")
        return None

    def date_time(self, field: str) -> datetime | None:
        if field not in self.meta:
            return None
        return self._parse_datetime(self.meta[field], field)

    def _parse_datetime(self, value: Any, field: str, line: int | None = None) -> datetime | None:
        if not isinstance(value, str):
            self.problem(field, f"must be a date-time with a UTC offset, {DATETIME_EXAMPLE}", line)
            return None
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if (
            parsed is None
            or "T" not in text.upper()
            or not re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text)
        ):
            self.problem(field, f"{text!r} is not an ISO 8601 date-time ({DATETIME_EXAMPLE})", line)
            return None
        if parsed.tzinfo is None:
            self.problem(
                field,
                f"{text!r} has no UTC offset (add one, {DATETIME_EXAMPLE}, or Z for UTC)",
                line,
            )
            return None
        return parsed

    def sectors(self, registry: Registry) -> tuple[str, ...] | None:
        if "sectors" not in self.meta:
            return None
        value = self.meta["sectors"]
        if value == ALL_SECTORS:
            value = [ALL_SECTORS]
        if not isinstance(value, list) or not value:
            self.problem("sectors", f"must be a non-empty list ({_ALLOWED['sectors']})")
            return None
        if ALL_SECTORS in value and len(value) > 1:
            self.problem("sectors", "[all] already includes every sector; write it alone")
            return None
        if value == [ALL_SECTORS]:
            return (ALL_SECTORS,)
        return self._slug_list("sectors", value, registry.sectors, "sectors.yml")

    def slugs(
        self, field: str, allowed: Mapping[str, Any] | None, allow_single: bool
    ) -> tuple[str, ...] | None:
        if field not in self.meta:
            return None
        value = self.meta[field]
        if allow_single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            what = (
                "a slug or a non-empty list of slugs"
                if allow_single
                else "a non-empty list of slugs"
            )
            self.problem(field, f"must be {what}")
            return None
        return self._slug_list(field, value, allowed, "sources.yml")

    def _slug_list(
        self, field: str, value: list[Any], allowed: Mapping[str, Any] | None, listed_in: str
    ) -> tuple[str, ...] | None:
        result: list[str] = []
        ok = True
        for index, item in enumerate(value):
            name = f"{field}[{index}]"
            if not isinstance(item, str) or not SLUG.fullmatch(item):
                self.problem(
                    name,
                    f"{_yaml_spelling(item)!r} is not a slug "
                    "(lower-case a-z, 0-9 and single hyphens)",
                    self.lines.get(field),
                )
                ok = False
            elif allowed is not None and item not in allowed:
                near = difflib.get_close_matches(item, list(allowed), n=3)
                hint = f"; did you mean {' or '.join(near)}?" if near else ""
                self.problem(
                    name,
                    f"{item!r} is not in {listed_in} (allowed: {', '.join(allowed)}){hint}",
                    self.lines.get(field),
                )
                ok = False
            elif item in result:
                self.problem(name, f"{item!r} is listed twice", self.lines.get(field))
                ok = False
            else:
                result.append(item)
        return tuple(result) if ok else None

    def reference(self, field: str) -> str | None:
        if field not in self.meta:
            return None
        value = self.meta[field]
        if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
            self.problem(
                field,
                f"{_yaml_spelling(value)!r} is not an alert id "
                "(the file name without .md, like 2017-04-20-paris-incident)",
            )
            return None
        return value

    def corrections(self, issued: datetime | None) -> tuple[Correction, ...]:
        if "corrections" not in self.meta:
            return ()
        value = self.meta["corrections"]
        line = self.lines.get("corrections", 1)
        if not isinstance(value, list) or not value:
            self.problem("corrections", "must be a non-empty list of {at: date-time, note: text}")
            return ()
        result: list[Correction] = []
        for index, item in enumerate(value):
            name = f"corrections[{index}]"
            if not isinstance(item, dict) or set(item) != {"at", "note"}:
                self.problem(name, "must be a mapping with exactly the keys at and note", line)
                continue
            at = self._parse_datetime(item["at"], f"{name}.at", line)
            note = item["note"]
            if not isinstance(note, str) or not note.strip():
                self.problem(f"{name}.note", "must be text saying what changed and why", line)
                continue
            bad = _FORBIDDEN_IN_NOTE.search(note)
            if bad:
                self.problem(
                    f"{name}.note",
                    "contains control or bidirectional character "
                    f"U+{ord(bad.group()):04X} (remove it)",
                    line,
                )
                continue
            if at is None:
                continue
            if issued is not None and at <= issued:
                self.problem(f"{name}.at", "must be later than issued", line)
                continue
            if result and at <= result[-1].at:
                self.problem(
                    f"{name}.at",
                    "corrections must be listed oldest first, each later than the one before",
                    line,
                )
                continue
            result.append(Correction(at=at, note=note.strip()))
        return tuple(result)

    def attachment_names(self) -> tuple[str, ...]:
        if "attachments" not in self.meta:
            return ()
        value = self.meta["attachments"]
        if not isinstance(value, list) or not value:
            self.problem(
                "attachments", "must be a non-empty list of file names in content/attachments/"
            )
            return ()
        names: list[str] = []
        for index, item in enumerate(value):
            name = f"attachments[{index}]"
            problem = attachment_name_problem(item)
            if problem:
                self.problem(name, problem, self.lines.get("attachments"))
            elif item in names:
                self.problem(name, f"{item!r} is listed twice", self.lines.get("attachments"))
            else:
                names.append(item)
        return tuple(names)


def attachment_name_problem(name: Any) -> str | None:
    """Why `name` cannot be an attachment path, or None. Existence is checked elsewhere."""
    allowed = "a file name inside content/attachments/, like bulletin.pdf"
    if not isinstance(name, str) or not name.strip():
        return f"must be text ({allowed})"
    if "\\" in name or "\x00" in name or _FORBIDDEN_IN_TEXT.search(name):
        return f"{name!r} contains characters not allowed in a file name ({allowed})"
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith("~"):
        return f"{name!r} points outside content/attachments/ ({allowed})"
    if any(part.startswith(".") for part in path.parts):
        return f"{name!r} is a hidden file ({allowed})"
    return None


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "nothing (null)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _yaml_spelling(value: Any) -> str:
    """How an author probably wrote a value YAML turned into something else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


AttachmentResolver = Callable[[str], Attachment | str]
