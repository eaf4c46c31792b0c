"""Files the audit keeps (the ledger and caches in JSON, the per-alert columns in marshal):
read strictly, replaced atomically."""

from __future__ import annotations

import contextlib
import fcntl
import json
import marshal
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from .errors import AuditError

LOCK_FILE: Final = "audit.lock"


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


def read_marshal(path: Path) -> Any | None:
    """The value marshalled in `path`, or None if there is no such file or it is damaged
    (a cache: the caller starts afresh)."""
    try:
        return marshal.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (EOFError, ValueError, TypeError) as error:
        raise AuditError(f"{path}: malformed audit cache ({error}); delete it to rebuild") from None


def write_marshal(path: Path, value: Any) -> None:
    """`write_json` for a cache of plain values (str, int, lists, dicts) that every build
    reads whole: marshal loads an archive's columns several times faster than JSON."""
    _replace(path, marshal.dumps(value))


def _replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any, *, indent: int | None = 2) -> None:
    """Write `value` to `path` so that readers see the old file or the new one, never half.

    The temporary file is made in the same folder, so that os.replace is a rename within one
    file system, and flushed to disk first, so that a crash cannot leave an empty file.
    """
    text = json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False)
    _replace(path, (text + "\n").encode("utf-8"))


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


@contextlib.contextmanager
def cache_lock(cache_dir: Path) -> Iterator[None]:
    """Hold the cache folder's lock: one audit at a time writes its files, so they agree."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def append_line(path: Path, line: bytes, *, at: int | None = None) -> int:
    """Append one line to a journal (after cutting it back to `at` bytes); its new size.

    Flushed to disk before returning, so that whatever records the size can trust it.
    """
    with path.open("a+b") as stream:
        if at is not None:
            stream.truncate(at)
        stream.write(line)
        stream.flush()
        os.fsync(stream.fileno())
        return stream.tell()
