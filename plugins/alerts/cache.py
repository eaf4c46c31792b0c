"""Content cache: an unchanged alert file is never parsed, rendered or sanitised again.

Three files share one name (`alerts.index`, `alerts.log`, `alerts.sqlite`):
- a journal (see journal.py) with, for every alert file, its stamp, its SHA-256 and what
  parsing it gave: problems, or the alert's slim record (index.py: what every build needs
  of every alert). A build that adds one alert appends one entry instead of writing them
  all again, and reads the others without building them;
- the store: by content hash, each alert's other fields (marshal bytes) and rendered body,
  in SQLite, read only when something asks for them (most of an archive's bytes, and a
  build that adds one alert reads few).

The stamp (size, times, inode) only decides whether a file needs hashing; the hash decides
whether it is parsed again. Entries are valid for one code fingerprint and one registry
(sectors and sources decide what validates).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import compress
from operator import and_, eq, itemgetter, not_, truth
from pathlib import Path
from typing import Any

from .discover import Stamp, last_change_ns, stamp_of
from .errors import BuildError, Problem
from .gitcontent import GitContent, is_alert, plain_tree, unusual
from .index import ID, LEVEL, STATUS, UPDATES, Slim, slim_of
from .journal import Journal
from .model import Alert, Attachment, CachedAlert, Correction, Level, Status
from .parallel import map_forked
from .registry import Registry
from .validate import ParsedAlert, parse_alert_file
from .wal import use_wal

_FORMAT = 8
# A file changed this close to the build's start may change again within the same tick of
# the file system's clock, keeping its stamp: such an entry is hashed again next time.
_RACY_NS = 2_000_000_000

# (stamp or None to hash next time, sha256, slim record or None, problems or None): the
# slim record of an alert, or the problems of a file. The alert's other fields are in the
# store, by hash, with its body.
Entry = tuple[Stamp | None, str, Slim | None, tuple[tuple[Any, ...], ...] | None]
Result = Alert | list[Problem]
# The journal key of the build the entries were saved by (no file is called "").
_GENERATION = ""
# The journal key of the git tree content/ was exactly when the entries were saved, if it
# was one (no file name holds a NUL).
_TREE = "\0tree"

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
        # As the last build saved them, until scan_git makes them this build's (`_before`).
        self.entries: dict[str, Entry] = {}
        self.fresh: dict[str, Entry] = {}  # this build's, once `scan` has run
        self.generation = ""  # the build that saved `entries` (see `save`)
        self.tree = ""  # the content tree `entries` stand for, if they stand for one
        self.next_tree = ""  # the content tree this build's entries stand for, if one
        self._blobs: dict[str, str] | None = None  # git ids of files read, when asked
        self.parsed = 0  # files parsed this build
        self.hashed = 0  # files read and hashed because their stamp was not as last time
        self._changed: dict[str, Entry | None] = {}
        self._parsed_rels: list[str] = []
        # Files of the entries that this build's `fresh` lacks, when git's diff named them
        # (else found by comparing the two: a pass over the archive).
        self._gone: list[str] | None = None
        # What the entries held for the files that changed, when `scan_git` changed the
        # entries in place (`fresh` is then `entries`); None when they are as saved.
        self._before: dict[str, Entry] | None = None
        self._unreadable: dict[str, list[Problem]] = {}
        self._alerts: dict[str, Alert] = {}  # parsed this build, or already decoded
        self._new_bodies: dict[str, tuple[str, bytes]] = {}  # body, fields by hash
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

    def read(
        self,
        content: Path,
        rels: list[str],
        registry: Registry,
        stamps: Mapping[str, Stamp | None] | None = None,
    ) -> list[Result]:
        """`read_all` without the ParsedAlert wrappers (see `lines`)."""
        if stamps is None:
            stamps = {rel: _stat(content / rel) for rel in rels}
        self.scan(content, {rel: stamps.get(rel) for rel in rels}, registry)
        results: list[Result] = []
        for rel in rels:
            entry = self.fresh.get(rel)
            if entry is None:
                results.append(self._unreadable[rel])
            elif entry[3] is not None:
                results.append([Problem(*p) for p in entry[3]])
            else:
                results.append(self.alert(rel))
        return results

    def scan(
        self,
        content: Path,
        stamps: Mapping[str, Stamp | None],
        registry: Registry,
        git: GitContent | None = None,
    ) -> list[Problem]:
        """Bring every file's entry up to date (parsing on every core what changed), without
        building any Alert; returns the problems of files that have them.

        `git`: content/ was found to be exactly this tree before `stamps` were taken. If the
        files read now are as that tree has them, the entries are marked as standing for
        it, and the next build can ask git what changed instead of comparing stamps."""
        self._open(registry)
        self._blobs = {} if git is not None else None
        self._gone = None
        self._bodies.content = content
        entries, fresh, changed = self.entries, self.fresh, self._changed
        problems: list[Problem] = []
        misses: list[tuple[str, bytes, str, Stamp | None]] = []
        # In the journal's order (newest first, as last folded), so that the archive's
        # order is nearly sorted already; files the journal does not know come last. C
        # loops: a file whose stamp is as its entry has it (a stamp of None never is).
        # (A copy of the entries, less the few that differ, costs far less than a new dict
        # of the many that do not.)
        rels, recorded = list(entries), list(entries.values())
        now = list(map(stamps.get, rels))
        same = list(map(and_, map(eq, map(itemgetter(0), recorded), now), map(truth, now)))
        fresh.update(entries)
        looked = list(compress(rels, map(not_, same)))
        for rel in looked:
            del fresh[rel]
        for rel, entry in compress(zip(rels, recorded, strict=True), map(itemgetter(3), recorded)):
            if rel in fresh:  # a file with problems, unchanged
                problems.extend(Problem(*p) for p in entry[3] or ())
        looked = [rel for rel in looked if rel in stamps]
        looked.extend(stamps.keys() - entries.keys())
        for rel in looked:
            stamp = stamps[rel]
            known = entries.get(rel)
            raw = self._read(content, rel, problems)
            if raw is None:
                continue
            self.hashed += 1
            if git is not None and self._blobs is not None:
                self._blobs[rel] = git.blob_id(raw)
            digest = hashlib.sha256(raw).hexdigest()
            if known is not None and known[1] == digest:
                fresh[rel] = changed[rel] = (stamp, *known[1:])
                if known[3] is not None:
                    problems.extend(Problem(*p) for p in known[3])
            else:
                misses.append((rel, raw, digest, stamp))
        problems.extend(self._parse(misses, registry))
        self.next_tree = ""
        if git is not None and not problems and all(map(truth, stamps.values())):
            listing = git.listing()
            if listing is not None and plain_tree(listing, stamps, self._blobs or {}):
                self.next_tree = git.tree
        return problems

    def scan_git(self, content: Path, git: GitContent, registry: Registry) -> list[Problem] | None:
        """`scan` when content/ is exactly the tree `git` and the entries stand for an
        earlier tree: only the files git says differ are read. None when git cannot say,
        or something changed that discovery must look at (a link, a stray file)."""
        self._open(registry)
        self._bodies.content = content
        if not self.tree:
            return None
        changes = git.changes_since(self.tree)
        if changes is None or any(map(unusual, changes)):
            return None
        # The entries become this build's in place: a copy of an archive's would cost a
        # pass over it (at 100,000 alerts, 0.03 s) to change a handful. What they held for
        # the files that changed is kept aside (`_before`).
        self.fresh = fresh = self.entries
        self._before = before = {}
        changed = self._changed
        problems: list[Problem] = []
        misses: list[tuple[str, bytes, str, Stamp | None]] = []
        self.next_tree = git.tree
        for change in changes:
            rel = change.path
            if not is_alert(rel):
                continue  # the registry, attachments, hidden files: read elsewhere
            known = fresh.pop(rel, None)
            if known is not None:
                before[rel] = known
            if change.deleted:
                continue
            stamp = _stat(content / rel)
            raw = self._read(content, rel, problems)
            if raw is None:
                continue
            if git.blob_id(raw) != change.blob:
                self.next_tree = ""  # changed since git looked: read as it is now
            self.hashed += 1
            digest = hashlib.sha256(raw).hexdigest()
            if known is not None and known[1] == digest:
                fresh[rel] = changed[rel] = (stamp, *known[1:])
            else:
                misses.append((rel, raw, digest, stamp))
        recorded = list(fresh.values())
        for entry in compress(recorded, map(itemgetter(3), recorded)):
            problems.extend(Problem(*p) for p in entry[3] or ())
        problems.extend(self._parse(misses, registry))
        self._gone = [rel for rel in before if rel not in fresh]
        return problems

    def _read(self, content: Path, rel: str, problems: list[Problem]) -> bytes | None:
        """A file's bytes, or None with the reason added to `problems`."""
        try:
            return (content / rel).read_bytes()
        except OSError as exc:
            unreadable = [Problem(rel, 1, "file", f"cannot be read ({exc.strerror})")]
            self._unreadable[rel] = unreadable
            problems.extend(unreadable)
            return None

    def _parse(
        self, misses: list[tuple[str, bytes, str, Stamp | None]], registry: Registry
    ) -> list[Problem]:
        """Parse the files whose bytes the entries do not know, on every core."""
        fresh, changed = self.fresh, self._changed
        problems: list[Problem] = []
        sectors = list(registry.sectors)
        self._bodies.registry = registry

        def parse(miss: tuple[str, bytes, str, Stamp | None]) -> tuple[Entry, Alert | None, bytes]:
            rel, raw, digest, stamp = miss
            result = parse_alert_file(raw, rel, registry)
            if isinstance(result, list):
                return (stamp, digest, None, _problems(result)), None, b""
            alert = result.alert.evolve(content_hash=digest)
            fields = marshal.dumps(_fields(alert, result.lines))
            return (stamp, digest, slim_of(alert, sectors), None), alert, fields

        for miss, (entry, alert, fields) in zip(misses, map_forked(parse, misses), strict=True):
            rel = miss[0]
            fresh[rel] = changed[rel] = entry
            self._parsed_rels.append(rel)
            if alert is None:
                problems.extend(Problem(*p) for p in entry[3] or ())
            else:
                self._alerts[rel] = alert
                self._new_bodies[entry[1]] = (alert.body_html, fields)
        self.parsed += len(misses)
        return problems

    def alert(self, rel: str) -> Alert:
        """The Alert in `rel` (which `scan` found valid), built once: with the fields its
        slim record holds, the rest read from the store only if asked for (a pass over the
        whole archive asking for ids and hashes reads nothing)."""
        alert = self._alerts.get(rel)
        if alert is None:
            _, sha, slim, _ = self.fresh[rel]
            assert slim is not None
            alert = self._alerts[rel] = CachedAlert.cached(
                {
                    "id": slim[ID],
                    "path": rel,
                    "level": _LEVELS[slim[LEVEL]],
                    "status": _STATUSES[slim[STATUS]],
                    "updates": slim[UPDATES],
                    "content_hash": sha,
                },
                self._bodies.fields,
                self._bodies.body,
            )
        return alert

    def lines(self, rel: str) -> dict[str, int]:
        """The line of each front-matter key of a file read by this build (for messages)."""
        sha = self.fresh[rel][1]
        new = self._new_bodies.get(sha)
        blob = new[1] if new is not None else self._bodies.raw_fields(self.alert(rel))
        return marshal.loads(blob)[-1]  # type: ignore[no-any-return]

    def changes(self) -> dict[str, tuple[Slim | None, Slim | None]]:
        """The slim records of files parsed this build and of files gone since the entries
        were saved, as they were then and as they are now (None: no alert)."""
        old = self.entries if self._before is None else self._before
        new = self.fresh
        changes = {}
        for rel in self._parsed_rels:
            before = old.get(rel)
            changes[rel] = (before[2] if before else None, new[rel][2])
        for rel in self._gone_files():
            changes[rel] = (old[rel][2], None)
        return changes

    def _gone_files(self) -> Iterable[str]:
        return self.entries.keys() - self.fresh.keys() if self._gone is None else self._gone

    def _open(self, registry: Registry) -> None:
        """Load the journal once, if it was made with this code and registry."""
        if self._journal is not None or self.path is None:
            return
        fingerprint = _registry_fingerprint(self.fingerprint, registry)
        tag = (_FORMAT, fingerprint, self._bodies.store_id())
        self._journal = Journal(self.path, tag)
        self.entries = self._journal.load()
        generation = self.entries.pop(_GENERATION, "")
        self.generation = generation if isinstance(generation, str) else ""
        tree = self.entries.pop(_TREE, "")
        self.tree = tree if isinstance(tree, str) else ""

    # -- saving ----------------------------------------------------------------------------

    def save(self, generation: str = "") -> None:
        """Keep only what this build read, as made by the build named `generation`: bodies
        first, then the entries that name them."""
        if self._journal is None:
            return
        for rel in self._gone_files():
            self._changed[rel] = None
        racy = self.started_ns - _RACY_NS
        for rel, entry in self._changed.items():
            stamp = entry[0] if entry is not None else None
            if entry is None or stamp is None:
                continue
            changed_ns = last_change_ns(stamp)
            if changed_ns is None or changed_ns >= racy:
                self._changed[rel] = self.fresh[rel] = (None, *entry[1:])
        self._bodies.add(self._new_bodies)
        journal = self._journal
        if journal.due_to_fold():
            self._bodies.keep_only({entry[1] for entry in self.fresh.values()})
            assert self.path is not None
            self.path.with_suffix(".pickle").unlink(missing_ok=True)  # the old format's
        changes: dict[str, Any] = dict(self._changed)
        if generation != self.generation:
            changes[_GENERATION] = generation
        if self.next_tree != self.tree:
            changes[_TREE] = self.next_tree or None
        if journal.due_to_fold():
            # Newest first: the next builds read the archive in (nearly) its order.
            ordered = sorted(self.fresh.items(), key=_order)
            marks = {_GENERATION: generation, _TREE: self.next_tree}
            journal.save({**dict(ordered), **marks}, changes)
        else:
            journal.save({}, changes)  # appended to the log: the entries are not written
        self.entries = self.fresh if self._before is not None else dict(self.fresh)
        self._before = None
        self.generation = generation
        self.tree = self.next_tree
        self._changed = {}
        self._parsed_rels = []
        self._gone = None
        self._new_bodies = {}

    def close(self) -> None:
        """Done writing: the store's log is folded into it now (a cold build's is as large
        as the store), not by whichever build next opens it. Reading again reopens it."""
        self._bodies.close()


class BodyStore:
    """Each alert's fields (beyond its slim record) and body by content hash, in SQLite.

    Both depend on the file's bytes only (not its path, nor the registry), so a hash names
    them. A forked worker opens its own connection.
    """

    _VERSION = "2"

    def __init__(self, path: Path | None, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        # To read a file again if the store lost what it held (deleted by hand?).
        self.content: Path | None = None
        self.registry: Registry | None = None
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
        use_wal(db)
        with db:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            made = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if (made.get("fingerprint"), made.get("version")) != (self.fingerprint, self._VERSION):
                # Made by other code; a new id tells every index it is stale.
                db.execute("DROP TABLE IF EXISTS body")
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?), ('version', ?), "
                    "('id', ?)",
                    (self.fingerprint, self._VERSION, secrets.token_hex(8)),
                )
            db.execute(
                "CREATE TABLE IF NOT EXISTS body "
                "(sha TEXT PRIMARY KEY, html TEXT NOT NULL, fields BLOB NOT NULL)"
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
        return self._parse_again(alert).body_html

    def fields(self, alert: Alert) -> dict[str, Any]:
        """The fields of `alert` its slim record does not hold, as an Alert holds them."""
        return _decode(self.raw_fields(alert))

    def raw_fields(self, alert: Alert) -> bytes:
        row = (
            self._connection()
            .execute("SELECT fields FROM body WHERE sha = ?", (alert.content_hash,))
            .fetchone()
        )
        if row is not None:
            return bytes(row[0])
        again = self._parse_again(alert)
        return marshal.dumps(_fields(again, self._lines_again(again)))

    def _parse_again(self, alert: Alert) -> Alert:
        """The store lost an alert (deleted by hand?): its file still has it, if unchanged."""
        return self._parsed_again(alert).alert

    def _lines_again(self, alert: Alert) -> Mapping[str, int]:
        return self._parsed_again(alert).lines

    def _parsed_again(self, alert: Alert) -> ParsedAlert:
        try:
            assert self.content is not None and self.registry is not None
            raw = (self.content / alert.path).read_bytes()
        except (OSError, AssertionError):
            raw = b""
        parsed = (
            parse_alert_file(raw, alert.path, self.registry)
            if raw and self.registry is not None
            else []
        )
        if hashlib.sha256(raw).hexdigest() != alert.content_hash or not isinstance(
            parsed, ParsedAlert
        ):
            raise BuildError(
                f"{alert.path} changed during the build, or the content cache is damaged: "
                "build again (with --no-cache if this persists)"
            )
        return ParsedAlert(parsed.alert.evolve(content_hash=alert.content_hash), parsed.lines)

    def add(self, bodies: Mapping[str, tuple[str, bytes]]) -> None:
        """Keep each body and fields by hash."""
        if self.path is None or not bodies:
            return
        db = self._connection()
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO body (sha, html, fields) VALUES (?, ?, ?)",
                ((sha, html, fields) for sha, (html, fields) in bodies.items()),
            )

    def keep_only(self, shas: set[str]) -> None:
        """Drop what belongs to files no longer in the content (only when the index is
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


def _order(item: tuple[str, Entry]) -> str:
    """Alerts newest first (by their slim records' sort keys), files with problems last."""
    slim = item[1][2]
    return slim[0] if slim is not None else "~" + item[0]


def _problems(problems: list[Problem]) -> tuple[tuple[Any, ...], ...]:
    return tuple((p.path, p.line, p.field, p.message) for p in problems)


def _fields(a: Alert, lines: Mapping[str, int]) -> tuple[Any, ...]:
    """An alert as plain values (marshal stores nothing else), without what the entry
    already holds (path, hash) or what is loaded on demand (body). Repeated words are
    interned, so the journal stores each once."""
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
        {_intern(key): line for key, line in lines.items()},
    )


def _decode(blob: bytes) -> dict[str, Any]:
    """The fields `_fields` kept, as an Alert holds them (path and hash are the entry's)."""
    (
        _,
        title,
        _,
        issued,
        sectors,
        sources,
        summary,
        _,
        expires,
        _,
        corrections,
        attachments,
        topics,
        _,
    ) = marshal.loads(blob)
    return {
        "title": title,
        "issued": _from_iso(issued),
        "sectors": sectors,
        "sources": sources,
        "summary": summary,
        "expires": None if expires is None else _from_iso(expires),
        "corrections": tuple(Correction(_from_iso(at), note) for at, note in corrections)
        if corrections
        else (),
        "attachments": tuple(Attachment(*x) for x in attachments) if attachments else (),
        "topics": topics,
    }


def _stat(path: Path) -> Stamp | None:
    try:
        return stamp_of(path.stat())
    except OSError:
        return None


def _registry_fingerprint(fingerprint: str, registry: Registry) -> str:
    shape = repr((sorted(registry.sectors.items()), sorted(registry.sources.items())))
    return hashlib.sha256(f"{fingerprint}\0{shape}".encode()).hexdigest()
