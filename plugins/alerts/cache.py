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
from .parallel import map_forked
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

    def read_all(
        self, content: Path, rels: list[str], registry: Registry
    ) -> list[ParsedAlert | list[Problem]]:
        """Every file's parse, from the cache where the bytes are unchanged; the rest are
        parsed on every core."""
        results: dict[str, ParsedAlert | list[Problem]] = {}
        misses: list[tuple[str, bytes, str, tuple[int, int]]] = []
        for rel in rels:
            path = content / rel
            try:
                stat = path.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
                entry = self.entries.get(rel)
                if entry is not None and entry.stamp == stamp:
                    self.fresh[rel] = entry
                    continue
                raw = path.read_bytes()
            except OSError as exc:
                results[rel] = [Problem(rel, 1, "file", f"cannot be read ({exc.strerror})")]
                continue
            digest = hashlib.sha256(raw).hexdigest()
            if entry is not None and entry.sha256 == digest:
                self.fresh[rel] = replace(entry, stamp=stamp)
            else:
                misses.append((rel, raw, digest, stamp))

        def parse(miss: tuple[str, bytes, str, tuple[int, int]]) -> ParsedAlert | list[Problem]:
            rel, raw, digest, _ = miss
            result = parse_alert_file(raw, rel, registry)
            if isinstance(result, ParsedAlert):
                result = replace(result, alert=replace(result.alert, content_hash=digest))
            return result

        for miss, result in zip(misses, map_forked(parse, misses), strict=True):
            self.fresh[miss[0]] = _Entry(miss[3], miss[2], result)
        self.parsed += len(misses)
        for rel in rels:
            if rel not in results:
                results[rel] = self.fresh[rel].result
        return [results[rel] for rel in rels]

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
