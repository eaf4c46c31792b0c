"""Content cache: an unchanged alert file is never parsed, rendered or sanitised again.

Entries are keyed by the file's SHA-256 and the code fingerprint; the (mtime, size) pair
only decides whether the file needs hashing at all.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import Problem
from .registry import Registry
from .validate import ParsedAlert, parse_alert_file

_FORMAT = 1


@dataclass(frozen=True)
class _Entry:
    stamp: tuple[int, int]
    sha256: str
    result: ParsedAlert | list[Problem]


class AlertCache:
    """A per-build view of the on-disk cache; call save() once the build succeeded."""

    def __init__(self, path: Path | None, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.entries: dict[str, _Entry] = {}
        self.fresh: dict[str, _Entry] = {}
        self.parsed = 0
        if path is not None:
            self.entries = self._load(path)

    def _load(self, path: Path) -> dict[str, _Entry]:
        try:
            with path.open("rb") as handle:
                data = pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return {}
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            return {}
        if data.get("fingerprint") != self.fingerprint:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def read(self, content: Path, rel: str, registry: Registry) -> ParsedAlert | list[Problem]:
        path = content / rel
        try:
            stat = path.stat()
        except OSError as exc:
            return [Problem(rel, 1, "file", f"cannot be read ({exc.strerror})")]
        stamp = (stat.st_mtime_ns, stat.st_size)
        entry = self.entries.get(rel)
        if entry is None or entry.stamp != stamp:
            try:
                raw = path.read_bytes()
            except OSError as exc:
                return [Problem(rel, 1, "file", f"cannot be read ({exc.strerror})")]
            digest = hashlib.sha256(raw).hexdigest()
            if entry is None or entry.sha256 != digest:
                result = parse_alert_file(raw, rel, registry)
                if isinstance(result, ParsedAlert):
                    result = replace(result, alert=replace(result.alert, content_hash=digest))
                self.parsed += 1
                entry = _Entry(stamp, digest, result)
            else:
                entry = replace(entry, stamp=stamp)
        self.fresh[rel] = entry
        return entry.result

    def save(self) -> None:
        """Keep only what this build read, written atomically."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": _FORMAT, "fingerprint": self.fingerprint, "entries": self.fresh}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".alerts-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
