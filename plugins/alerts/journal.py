"""A dictionary of plain values kept on disk as a snapshot plus an append-only log of changes.

The content cache and the output manifest hold an entry per alert or per output file, and a
build that adds one alert changes a handful: rewriting all of them each time would make
every build cost in proportion to the archive. Here a build appends what it changed to the
log; the snapshot is rewritten only when the log has grown to a fair share of it.

Values must be what `marshal` stores (str, int, None, tuples, lists, dicts of those): it
loads tens of thousands of entries in milliseconds and runs no code while loading. A
snapshot made for another `tag` (format, code, settings...) reads as empty. A log record
torn by a killed build, and anything after it, is ignored and the log is folded in on the
next save: an entry lost that way only means the next build does that work again.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import mmap
import os
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

# The log is folded into the snapshot once it is this large a part of it (and at least
# _MIN_LOG_BYTES: small logs are cheaper to replay than a snapshot is to write).
LOG_SHARE = 4
MIN_LOG_BYTES = 1 << 20


class Journal:
    """One journalled dictionary: `<path>.index` (the snapshot) and `<path>.log`."""

    def __init__(self, path: Path, tag: Any) -> None:
        self.index = path.with_name(path.name + ".index")
        self.log = path.with_name(path.name + ".log")
        self.tag = tag
        self._base = ""
        self._fold = True  # nothing valid on disk yet: the first save writes a snapshot

    def load(self) -> dict[str, Any]:
        """The entries as the last save left them; empty if missing, damaged or stale."""
        try:
            with collector_paused():
                tag, base, entries = _load_file(self.index)
        except (OSError, EOFError, ValueError, TypeError):
            return {}
        if tag != self.tag or not isinstance(base, str) or not isinstance(entries, dict):
            return {}
        self._base = base
        self._fold = _replay(self.log, base, entries) or self._log_is_long()
        return entries

    def save(self, entries: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
        """Record `changes` (a value of None removes the key), of which `entries` is the
        result: appended to the log, or written as a new snapshot if that is due."""
        if not changes and not self._fold:
            return
        self.index.parent.mkdir(parents=True, exist_ok=True)
        if self._fold:
            self._base = secrets.token_hex(8)
            _write_atomically(self.index, marshal.dumps((self.tag, self._base, dict(entries))))
            # Records in the old log name the old snapshot: harmless if this unlink is lost.
            self.log.unlink(missing_ok=True)
            self._fold = False
        else:
            append(self.log, self._base, changes)

    @property
    def base(self) -> str:
        """Names the snapshot on disk; a log record for another is ignored."""
        return self._base

    def due_to_fold(self) -> bool:
        """Whether the next save writes a snapshot (the time to prune what it refers to)."""
        return self._fold

    def _log_is_long(self) -> bool:
        try:
            log = self.log.stat().st_size
            index = self.index.stat().st_size
        except OSError:
            return False
        return log > max(MIN_LOG_BYTES, index // LOG_SHARE)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection while making objects that all live on: an entry per alert or
    per output would otherwise set off collections that walk every object of the build."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_file(path: Path) -> Any:
    """What `path` holds, read through a memory map: a snapshot of 100,000 entries is 40 MB,
    and copying it into a bytes object first costs about a tenth of loading it. Snapshots
    are replaced whole, never written in place, so the mapped file cannot change meanwhile.
    An empty file raises ValueError, as a damaged one does."""
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return marshal.loads(data)


def append(log: Path, base: str, changes: Mapping[str, Any]) -> None:
    """Log `changes` against the snapshot named `base` (see `Journal.base`). Appending the
    same changes twice is harmless: replaying them twice gives the same entries."""
    with log.open("ab") as handle:
        handle.write(marshal.dumps((base, dict(changes))))


def _replay(path: Path, base: str, entries: dict[str, Any]) -> bool:
    """Apply each logged change in order; True if the log must be folded (damaged)."""
    try:
        log = path.open("rb")
    except FileNotFoundError:
        return False
    except OSError:
        return True
    with log:
        size = os.fstat(log.fileno()).st_size
        while log.tell() < size:
            try:
                made_for, changes = marshal.load(log)
            except (EOFError, ValueError, TypeError):
                return True  # torn by a killed build: what follows cannot be trusted
            if made_for != base or not isinstance(changes, dict):
                return True
            for key, value in changes.items():
                if value is None:
                    entries.pop(key, None)
                else:
                    entries[key] = value
    return False


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
