"""JSON files the audit keeps (the ledger, the caches): read strictly, replaced atomically."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import AuditError


def read_json(path: Path) -> Any | None:
    """The JSON value in `path`, or None if there is no such file; AuditError if malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise AuditError(f"{path}: cannot be read ({error})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AuditError(f"{path}: is not valid JSON ({error})") from None


def write_json(path: Path, value: Any, *, indent: int | None = 2) -> None:
    """Write `value` to `path` so that readers see the old file or the new one, never half.

    The temporary file is made in the same folder, so that os.replace is a rename within one
    file system, and flushed to disk first, so that a crash cannot leave an empty file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def utc_text(moment: datetime) -> str:
    """An aware datetime as UTC ISO 8601 with a Z: `2024-05-01T09:00:00Z`.

    Fractions of a second are kept (when there are any), so that a time read back is the
    same instant, never a moment earlier.
    """
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no defined instant")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_utc(text: object, what: str) -> datetime:
    """The instant in `text` written by utc_text (any ISO offset is accepted); ValueError if not."""
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a date-time string")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} {text!r} has no UTC offset")
    return moment.astimezone(UTC)
