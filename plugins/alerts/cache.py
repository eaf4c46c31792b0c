"""Content cache: an unchanged alert file is never parsed, rendered or sanitised again.

Three files share one name (`alerts.index`, `alerts.log`, `alerts.sqlite`):
- a journal (see journal.py) of every alert file's stamp, its SHA-256 and what parsing it
  gave (every field of the alert but its body, or its problems), as plain values: loading
  10,000 takes milliseconds where unpickling as many Alerts took 0.2 s, and a build that
  adds one alert appends one entry instead of writing them all again;
- the bodies: each alert's rendered HTML by content hash, in SQLite, read only when a page
  or feed needs it (most of an archive's bytes, and a build that adds one alert reads few).

The stamp (size, times, inode) only decides whether a file needs hashing; the hash decides
whether it is parsed again. Entries are valid for one code fingerprint and one registry
(sectors and sources decide what validates).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .discover import Stamp, stamp_of
from .errors import BuildError, Problem
from .frontmatter import read_source
from .journal import Journal
from .markup import render_body
from .model import Alert, Attachment, Correction, Level, Status
from .parallel import map_forked
from .registry import Registry
from .validate import ParsedAlert, parse_alert_file

_FORMAT = 3
# A file changed this close to the build's start may change again within the same tick of
# the file system's clock, keeping its stamp: such an entry is hashed again next time.
_RACY_NS = 2_000_000_000

# (stamp or None to hash next time, sha256, the alert's fields or None, problems or None)
Entry = tuple[Stamp | None, str, tuple[Any, ...] | None, tuple[tuple[Any, ...], ...] | None]
Result = Alert | list[Problem]

_LEVELS = {level.value: level for level in Level}
_STATUSES = {status.value: status for status in Status}
_from_iso = datetime.fromisoformat
_intern = sys.intern


class AlertCache:
    """A per-build view of the on-disk cache; call save() once the build succeeded."""

    def __init__(self, path: Path | None, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.started_ns = time.time_ns()
        self.entries: dict[str, Entry] = {}
        self.fresh: dict[str, Entry] = {}
        self.parsed = 0  # files parsed this build
        self.hashed = 0  # files read and hashed because their stamp was not as last time
        self._changed: dict[str, Entry | None] = {}
        self._new_bodies: dict[str, str] = {}
        self._journal: Journal | None = None
        self._bodies = BodyStore(None if path is None else path.with_suffix(".sqlite"), fingerprint)

    # -- reading ---------------------------------------------------------------------------

    def read_all(
        self,
        content: Path,
        rels: list[str],
        registry: Registry,
        stamps: Mapping[str, Stamp | None] | None = None,
    ) -> list[ParsedAlert | list[Problem]]:
        """Every file's parse, from the cache where the bytes are unchanged; the rest are
        parsed on every core. `stamps` are the files' stamps if already known."""
        return [
            result if isinstance(result, list) else ParsedAlert(result, self.lines(result.path))
            for result in self.read(content, rels, registry, stamps)
        ]

    def lines(self, rel: str) -> dict[str, int]:
        """The line of each front-matter key of a file read by this build (for messages)."""
        fields = self.fresh[rel][2]
        return fields[-1] if fields is not None else {}

    def read(
        self,
        content: Path,
        rels: list[str],
        registry: Registry,
        stamps: Mapping[str, Stamp | None] | None = None,
    ) -> list[Result]:
        """`read_all` without the ParsedAlert wrappers (see `lines`): it runs over the
        whole archive on every build."""
        self._open(registry)
        self._bodies.content = content
        entries, fresh, changed = self.entries, self.fresh, self._changed
        load = self._bodies.body
        results: list[Result | None] = []
        misses: list[tuple[int, str, bytes, str, Stamp | None]] = []
        for rel in rels:
            stamp = stamps.get(rel) if stamps is not None else _stat(content / rel)
            entry = entries.get(rel)
            if entry is not None and stamp is not None and entry[0] == stamp:
                fresh[rel] = entry
                results.append(_result(rel, entry, load))
                continue
            try:
                raw = (content / rel).read_bytes()
            except OSError as exc:
                results.append([Problem(rel, 1, "file", f"cannot be read ({exc.strerror})")])
                continue
            self.hashed += 1
            digest = hashlib.sha256(raw).hexdigest()
            if entry is not None and entry[1] == digest:
                entry = fresh[rel] = changed[rel] = (stamp, digest, entry[2], entry[3])
                results.append(_result(rel, entry, load))
            else:
                misses.append((len(results), rel, raw, digest, stamp))
                results.append(None)

        def parse(miss: tuple[int, str, bytes, str, Stamp | None]) -> ParsedAlert | list[Problem]:
            _, rel, raw, digest, _ = miss
            result = parse_alert_file(raw, rel, registry)
            if isinstance(result, ParsedAlert):
                alert = result.alert.evolve(content_hash=digest)
                result = ParsedAlert(alert=alert, lines=result.lines)
            return result

        for miss, parsed in zip(misses, map_forked(parse, misses), strict=True):
            index, rel, _, digest, stamp = miss
            fresh[rel] = changed[rel] = _entry(stamp, digest, parsed)
            if isinstance(parsed, ParsedAlert):
                self._new_bodies[digest] = parsed.alert.body_html
                results[index] = parsed.alert
            else:
                results[index] = parsed
        self.parsed += len(misses)
        return [result for result in results if result is not None]

    def _open(self, registry: Registry) -> None:
        """Load the journal once, if it was made with this code and registry."""
        if self._journal is not None or self.path is None:
            return
        fingerprint = _registry_fingerprint(self.fingerprint, registry)
        tag = (_FORMAT, fingerprint, self._bodies.store_id())
        self._journal = Journal(self.path, tag)
        self.entries = self._journal.load()

    # -- saving ----------------------------------------------------------------------------

    def save(self) -> None:
        """Keep only what this build read: bodies first, then the entries that name them."""
        if self._journal is None:
            return
        for rel in self.entries.keys() - self.fresh.keys():
            self._changed[rel] = None
        racy = self.started_ns - _RACY_NS
        for rel, entry in self._changed.items():
            stamp = entry[0] if entry is not None else None
            if entry is not None and stamp is not None and max(stamp[1], stamp[2]) >= racy:
                self._changed[rel] = self.fresh[rel] = (None, *entry[1:])
        self._bodies.add(self._new_bodies)
        journal = self._journal
        if journal.due_to_fold():
            self._bodies.keep_only({entry[1] for entry in self.fresh.values()})
            assert self.path is not None
            self.path.with_suffix(".pickle").unlink(missing_ok=True)  # the old format's
        journal.save(self.fresh, self._changed)
        self.entries = dict(self.fresh)
        self._changed = {}
        self._new_bodies = {}


class BodyStore:
    """Alert bodies by content hash, in SQLite. A forked worker opens its own connection."""

    def __init__(self, path: Path | None, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.content: Path | None = None  # to read a body again if the store lost it
        self._db: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._id: str | None = None

    def _connection(self) -> sqlite3.Connection:
        assert self.path is not None
        if self._db is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError:
                # A damaged cache is only a slower build: start it again.
                self.path.unlink(missing_ok=True)
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        assert self.path is not None
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        with db:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS body (sha TEXT PRIMARY KEY, html TEXT)")
            row = db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
            if row is None or row[0] != self.fingerprint:
                # Bodies rendered by other code; a new id tells every index it is stale.
                db.execute("DELETE FROM body")
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?), ('id', ?)",
                    (self.fingerprint, secrets.token_hex(8)),
                )
        return db

    def store_id(self) -> str:
        """Names this store's contents: an index made against another store is stale."""
        if self._id is None:
            row = self._connection().execute("SELECT value FROM meta WHERE key = 'id'").fetchone()
            self._id = str(row[0])
        return self._id

    def body(self, alert: Alert) -> str:
        row = (
            self._connection()
            .execute("SELECT html FROM body WHERE sha = ?", (alert.content_hash,))
            .fetchone()
        )
        if row is not None:
            return str(row[0])
        return self._render_again(alert)

    def _render_again(self, alert: Alert) -> str:
        """The store lost a body (deleted by hand?): the file still has it, if unchanged."""
        try:
            assert self.content is not None
            raw = (self.content / alert.path).read_bytes()
        except (OSError, AssertionError):
            raw = b""
        if hashlib.sha256(raw).hexdigest() != alert.content_hash:
            raise BuildError(
                f"{alert.path} changed during the build, or the content cache is damaged: "
                "build again (with --no-cache if this persists)"
            )
        return render_body(read_source(raw).body).html

    def add(self, bodies: Mapping[str, str]) -> None:
        if self.path is None or not bodies:
            return
        db = self._connection()
        with db:
            db.executemany("INSERT OR REPLACE INTO body (sha, html) VALUES (?, ?)", bodies.items())

    def keep_only(self, shas: set[str]) -> None:
        """Drop the bodies of files no longer in the content (only when the index is
        rewritten: a scan of the whole table is not worth it on every build)."""
        if self.path is None:
            return
        db = self._connection()
        with db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (sha TEXT PRIMARY KEY)")
            db.execute("DELETE FROM keep")
            db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", ((s,) for s in shas))
            db.execute("DELETE FROM body WHERE sha NOT IN (SELECT sha FROM keep)")
            db.execute("DELETE FROM keep")

    def close(self) -> None:
        if self._db is not None and self._pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None


# -- entries -------------------------------------------------------------------------------


def _entry(stamp: Stamp | None, digest: str, result: ParsedAlert | list[Problem]) -> Entry:
    if isinstance(result, ParsedAlert):
        return (stamp, digest, _fields(result), None)
    return (stamp, digest, None, tuple((p.path, p.line, p.field, p.message) for p in result))


def _fields(parsed: ParsedAlert) -> tuple[Any, ...]:
    """An alert as plain values (marshal stores nothing else), without what the entry
    already holds (path, hash) or what is loaded on demand (body). Repeated words are
    interned, so the journal stores each once."""
    a = parsed.alert
    return (
        a.id,
        a.title,
        _intern(a.level.value),
        a.issued.isoformat(),
        tuple(map(_intern, a.sectors)),
        tuple(map(_intern, a.sources)),
        a.summary,
        a.updates,
        a.expires.isoformat() if a.expires is not None else None,
        _intern(a.status.value),
        tuple((c.at.isoformat(), c.note) for c in a.corrections),
        tuple((x.name, x.size, _intern(x.media_type)) for x in a.attachments),
        tuple(map(_intern, a.topics)),
        {_intern(key): line for key, line in parsed.lines.items()},
    )


def _result(rel: str, entry: Entry, load_body: Callable[[Alert], str]) -> Result:
    fields = entry[2]
    if fields is None:
        return [Problem(*p) for p in entry[3] or ()]
    (
        alert_id,
        title,
        level,
        issued,
        sectors,
        sources,
        summary,
        updates,
        expires,
        status,
        corrections,
        attachments,
        topics,
        _,
    ) = fields
    return Alert.from_cache(
        {
            "id": alert_id,
            "path": rel,
            "title": title,
            "level": _LEVELS[level],
            "issued": _from_iso(issued),
            "sectors": sectors,
            "sources": sources,
            "summary": summary,
            "updates": updates,
            "expires": None if expires is None else _from_iso(expires),
            "status": _STATUSES[status],
            "corrections": tuple(Correction(_from_iso(at), note) for at, note in corrections)
            if corrections
            else (),
            "attachments": tuple(Attachment(*x) for x in attachments) if attachments else (),
            "topics": topics,
            "content_hash": entry[1],
        },
        load_body,
    )


def _stat(path: Path) -> Stamp | None:
    try:
        return stamp_of(path.stat())
    except OSError:
        return None


def _registry_fingerprint(fingerprint: str, registry: Registry) -> str:
    shape = repr((sorted(registry.sectors.items()), sorted(registry.sources.items())))
    return hashlib.sha256(f"{fingerprint}\0{shape}".encode()).hexdigest()
