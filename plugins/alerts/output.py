"""The one place that writes output files: staged beside the site, published all at once.

A build renders into a staging folder next to the output folder. Nothing in the output
folder changes until `publish()`:
- a full build stages the whole site and swaps the two folders (atomically where the
  kernel offers renameat2(RENAME_EXCHANGE), else with two renames);
- an incremental build stages only the files whose inputs changed, then moves them in
  under a journal; if the process dies during those few renames, the next build finishes
  them before doing anything else, so the site never stays half-published.
A build that fails or is killed before `publish()` leaves the previous site untouched.

The manifest says what each published file was made from (its key) and what it holds (a
digest): a journal (journal.py) in `manifest.index` and `manifest.log`, so that a build which
changes a few files records only those, and a short `manifest.json` beside it naming the
build, rewritten whenever the journal changes. The pages under `alerts/` (two per alert, an
archive's worth) are kept apart, in `manifest.alerts.sqlite` (AlertPages): a build that
carries that folder (`carry`) looks up only the few pages it plans, never loading the rest.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from itertools import compress, repeat
from operator import and_, not_
from pathlib import Path

from .errors import BuildError
from .journal import Journal, append
from .parallel import map_forked
from .wal import use_wal

_MANIFEST_FORMAT = 3
# Where the per-alert pages are: their entries are kept apart (see AlertPages).
ALERTS = "alerts/"
# The manifest key of the build's own state (no output file is called "").
_STATE = ""
# A manifest value is the published file's SHA-256 (hex) followed by its key.
_DIGEST = 64
_UNKNOWN = "?" * _DIGEST


@dataclass(frozen=True)
class WriteStats:
    rendered: int
    written: int
    kept: int
    deleted: int
    full: bool


class SiteOutput:
    def __init__(
        self,
        output: Path,
        manifest: Path,
        build_key: str,
        full: bool = False,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        self.after_batch = after_batch
        self.output = output.absolute()
        self.manifest_path = manifest
        self.build_key = build_key
        self.staging = self.output.parent / f".{self.output.name}.staging"
        self.journal = self.output.parent / f".{self.output.name}.journal"
        recover(self.output)
        self._manifest = Journal(manifest.with_suffix(""), self._manifest_tag())
        self._alerts = AlertPages(manifest.with_name(_ALERT_PAGES), repr(self._manifest_tag()))
        previous = {} if full else self._manifest.load()
        state = previous.pop(_STATE, None)
        self.full = (
            not previous or not self.output.is_dir() or (not full and not self._alerts.open())
        )
        # The published files outside alerts/ (those inside: `_alerts`, looked up as asked).
        self.previous: dict[str, str] = {} if self.full else previous
        if self.full:
            self._alerts.forget()
        # What the build that published the site recorded about itself (see `state`).
        self.previous_state: str | None = None if self.full or not isinstance(state, str) else state
        # Recorded with this build's files, for the next build: set it before publish(),
        # which records it only if some file changed (else the site is still as the
        # previous state describes it). `recorded_state` says which one stands.
        self.state: str | None = None
        self.recorded_state = self.previous_state
        self.planned: dict[str, str] = {}
        # Files kept by unchanged_endings: lists, not entries of `planned` (a dict of a
        # hundred thousand entries costs more to make than the check that fills it).
        self._kept_in_bulk: list[list[str]] = []
        self._carried: set[str] = set()
        self._dropped: list[str] = []
        self.staged: list[str] = []
        self._pending: list[tuple[str, Callable[[], bytes]]] = []
        self.rendered = 0
        self.kept = 0
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)
        self._staging_root = str(self.staging.resolve())

    # -- writing ---------------------------------------------------------------------------

    def unchanged(self, rel: str, key: str) -> bool:
        """True, with `rel` kept as published, if it was last made from the same `key`.

        The manifest vouches for files it lists (it is only trusted while the output folder
        is the one it describes); `--full` rebuilds everything regardless. Costs one lookup:
        a build asks this of every output, and most are unchanged.
        """
        before = self._before(rel)
        if before is None or len(before) != _DIGEST + len(key) or not before.endswith(key):
            return False
        if rel in self.planned:
            raise BuildError(f"two outputs would both be written to {rel}")
        self.planned[rel] = before
        self.kept += 1
        return True

    def published_key(self, rel: str) -> str | None:
        """The key `rel` was last made from, if the manifest vouches for it."""
        before = self._before(rel)
        return None if before is None else before[_DIGEST:]

    def _before(self, rel: str) -> str | None:
        """What the manifest says of `rel` (None: not published)."""
        if rel.startswith(ALERTS):
            return self._alerts.get(rel)
        return self.previous.get(rel)

    def unchanged_endings(self, rels: list[str], endings: list[str]) -> list[int]:
        """`unchanged` for a caller that knows every input of each of `rels` but the last
        part of its key is as it was: keeps those whose key ends with their `endings`, and
        returns the positions of the others (to plan in full). One call for thousands, in C
        loops (no Python function is called per file)."""
        if len(rels) != len(endings):
            raise ValueError("one ending per file")
        planned = self.planned
        inside = list(map(str.startswith, rels, repeat(ALERTS)))
        if any(inside):
            self._alerts.load()  # thousands of them: all at once
        previous = (
            self._alerts.known
            if all(inside)
            else self.previous
            if not any(inside)
            else self._both()
        )
        befores = list(map(previous.get, rels, repeat("")))
        kept = list(map(str.endswith, befores, endings))
        if not planned.keys().isdisjoint(rels):
            # Planned already: emit() reports it when it is planned again.
            kept = list(map(and_, kept, map(not_, map(planned.__contains__, rels))))
        missed = list(compress(range(len(rels)), map(not_, kept)))
        self._kept_in_bulk.append(list(compress(rels, kept)))
        self.kept += len(rels) - len(missed)
        return missed

    def emit(self, rel: str, key: str, render: Callable[[], bytes]) -> None:
        """Make `rel` hold what `render()` returns; skip the render if `key` is unchanged.

        Renders are queued and run together in `publish()`, on every core when there are
        many (a cold build) and in-process when there are few (an incremental one).
        """
        if self.unchanged(rel, key):
            return
        if rel in self.planned:
            raise BuildError(f"two outputs would both be written to {rel}")
        # Only a path about to be written needs checking: a kept one was checked when it
        # was written.
        self._checked(rel)
        self.planned[rel] = _UNKNOWN + key
        self._pending.append((rel, render))

    def carry(self, folder: str) -> None:
        """Keep every published file under `folder` (ending in "/") that this build does not
        emit: a part of the site whose inputs did not change, which the build need not go
        through file by file. Files it does emit there are written as usual."""
        if not folder.endswith("/"):
            raise ValueError(f"not a folder: {folder!r}")
        self._carried.add(folder)

    def drop(self, folder: str) -> None:
        """Remove every published file under `folder` (in a carried folder) that this build
        does not emit: what an alert that is gone left behind."""
        if not folder.startswith(ALERTS) or not folder.endswith("/"):
            raise ValueError(f"not a folder under {ALERTS}: {folder!r}")
        self._dropped.append(folder)

    def _both(self) -> dict[str, str]:
        return {**self.previous, **self._alerts.known}

    def _render_pending(self) -> None:
        pending, self._pending = self._pending, []
        results = map_forked(self._render_one, pending, after_batch=self.after_batch)
        for (rel, _), result in zip(pending, results, strict=True):
            self._record(rel, result)

    def _record(self, rel: str, result: tuple[str, bool]) -> None:
        digest, written = result
        self.planned[rel] = digest + self.planned[rel][_DIGEST:]
        self.rendered += 1
        if written:
            self.staged.append(rel)
        else:
            self.kept += 1

    def _render_one(self, job: tuple[str, Callable[[], bytes]]) -> tuple[str, bool]:
        """Render one output into staging unless it comes out as already published."""
        rel, render = job
        data = render()
        digest = hashlib.sha256(data).hexdigest()
        before = self._before(rel)
        if before is not None and before.startswith(digest) and (self.output / rel).is_file():
            return digest, False
        if self.full:
            target = self.staging / rel  # swapped in whole: laid out as the site
            target.parent.mkdir(parents=True, exist_ok=True)
        else:
            # Moved in one by one: flat, so staging costs no folder per file made and removed.
            target = self.staging / _staged_name(rel)
        target.write_bytes(data)
        return digest, True

    def copy(self, rel: str, source: Path) -> None:
        """Publish a file as it is (attachments, theme assets), keyed by its content."""
        data = source.read_bytes()
        self.emit(rel, hashlib.sha256(data).hexdigest(), lambda: data)

    def _checked(self, rel: str) -> Path:
        if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel:
            raise BuildError(f"refusing to write {rel!r}: not a relative path")
        # The staging folder is made empty by us and only ever receives regular files, so
        # normalising the path resolves it exactly, without a system call per component;
        # commonpath compares whole components ("/out-evil" is not inside "/out").
        target = os.path.normpath(os.path.join(self._staging_root, rel))
        if target == self._staging_root or (
            os.path.commonpath((self._staging_root, target)) != self._staging_root
        ):
            raise BuildError(f"refusing to write {rel!r}: it is outside the output folder")
        return Path(target)

    # -- publishing ------------------------------------------------------------------------

    def publish(self) -> WriteStats:
        for kept in self._kept_in_bulk:
            if not self.planned.keys().isdisjoint(kept):
                clash = next(filter(self.planned.__contains__, kept))
                raise BuildError(f"two outputs would both be written to {clash}")
        pending = [rel for rel, _ in self._pending]
        alerts = self._alerts
        if not self.full and ALERTS not in self._carried:
            alerts.load()  # what is not emitted there goes: all must be known
        for folder in self._dropped:
            alerts.load_folder(folder)
        alerts.close()
        self._render_pending()
        stale = (self.previous.keys() | alerts.known.keys()) - self.planned.keys()
        for kept in self._kept_in_bulk:
            stale.difference_update(kept)
        deleted = sorted(self._carry(stale))
        # The carried files nobody looked up: kept, uncounted until now.
        self.kept += alerts.count - len(alerts.known) if not self.full else 0
        if self.full:
            if self.state is not None:
                self.planned[_STATE] = self.recorded_state = self.state
            _swap_in(self.staging, self.output)
            # The swap put another folder in place: a new tag, and every entry.
            tag = self._manifest_tag()
            inside = {rel: v for rel, v in self.planned.items() if rel.startswith(ALERTS)}
            outside = {rel: v for rel, v in self.planned.items() if not rel.startswith(ALERTS)}
            AlertPages(alerts.path, repr(tag)).replace(inside)
            self._manifest = Journal(self.manifest_path.with_suffix(""), tag)
            self._manifest.save(outside, outside)
            _write_json(self.manifest_path, self._summary(len(outside), len(inside)))
        else:
            changes: dict[str, str | None] = {
                rel: self.planned[rel] for rel in pending if self._before(rel) != self.planned[rel]
            }
            changes.update(dict.fromkeys(deleted))
            if changes and self.state is not None:
                changes[_STATE] = self.planned[_STATE] = self.recorded_state = self.state
            elif self.previous_state is not None:
                self.planned[_STATE] = self.previous_state
            # Split: the alert pages' entries go to their own store.
            moved = {rel: v for rel, v in changes.items() if rel.startswith(ALERTS)}
            for rel in moved:
                del changes[rel]
            count = alerts.count + sum(
                (v is not None) - (alerts.get(rel) is not None) for rel, v in moved.items()
            )
            plan: dict[str, object] = {
                "staging": str(self.staging),
                "moves": [[_staged_name(rel), rel] for rel in self.staged],
                "deletes": deleted,
            }
            if changes or moved:
                if self._manifest.due_to_fold():
                    # A snapshot of the site as it is now; this publish's changes follow it.
                    snapshot = dict(self.previous)
                    if self.previous_state is not None:
                        snapshot[_STATE] = self.previous_state
                    self._manifest.save(snapshot, {})
                after = {**self.previous, **changes}
                files = len(after) - sum(value is None for value in after.values())
                # Recorded with the moves they describe, so that a publish finished by
                # `recover` after a kill leaves a manifest that matches the files.
                plan["manifest"] = {
                    "log": str(self._manifest.log),
                    "base": self._manifest.base,
                    "changes": changes,
                    "alerts": {"path": str(alerts.path), "changes": moved, "count": count},
                    "summary": str(self.manifest_path),
                    "summary_data": self._summary(files, count, len(changes) + len(moved)),
                }
            alerts.close()
            self.journal.write_text(json.dumps(plan), encoding="utf-8")
            recover(self.output)
        return WriteStats(
            rendered=self.rendered,
            written=len(self.staged) if not self.full else len(self.planned),
            kept=self.kept if not self.full else 0,
            deleted=len(deleted),
            full=self.full,
        )

    def _carry(self, stale: set[str]) -> set[str]:
        """Of the published files this build did not emit, keep those in carried folders
        (unless dropped); returns the others (to delete)."""
        if not self._carried:
            return stale
        carried, previous = self._carried, self.previous
        dropped = tuple(self._dropped)
        gone = set()
        for rel in stale:
            end = rel.find("/")
            while end >= 0 and rel[: end + 1] not in carried:
                end = rel.find("/", end + 1)
            if end >= 0 and not rel.startswith(dropped):
                self.planned[rel] = previous[rel] if rel in previous else self._alerts.known[rel]
                self.kept += 1
            else:
                gone.add(rel)
        return gone

    def abandon(self) -> None:
        """Drop everything staged; the published site is as it was."""
        self._alerts.close()
        shutil.rmtree(self.staging, ignore_errors=True)

    # -- manifest: what each published file was made from ----------------------------------

    def _manifest_tag(self) -> tuple[object, ...]:
        # Only trusted for the output folder it describes: not one swapped in or made anew.
        return (_MANIFEST_FORMAT, self.build_key, str(self.output), _inode(self.output))

    def _summary(self, files: int, alert_files: int, changed: int = -1) -> dict[str, object]:
        """manifest.json: which build the journal belongs to; rewritten whenever the
        journal changes (so its identity changes with the site's). `files`: in the journal;
        `alert_files`: in the alert pages' store."""
        return {
            "format": _MANIFEST_FORMAT,
            "build_key": self.build_key,
            "output": str(self.output),
            "inode": _inode(self.output),
            "files": files,
            "alert_files": alert_files,
            "changed": files + alert_files if changed < 0 else changed,
            "entries": self._manifest.index.name,
            "alert_entries": self._alerts.path.name,
        }


_ALERT_PAGES = "manifest.alerts.sqlite"


class AlertPages:
    """The manifest's entries of files under alerts/ (SQLite): two pages per alert, an
    archive's worth, of which a build that carries the folder looks up only those it plans.

    It names the site it describes with the same tag as the journal: a full build rewrites
    both, and an incremental publish's changes to both travel in its publish journal, so
    a kill between the two writes is finished by `recover`.
    """

    def __init__(self, path: Path, tag: str) -> None:
        self.path = path
        self.tag = tag
        self.known: dict[str, str] = {}  # entries looked up (or all of them, once `loaded`)
        self._missing: set[str] = set()  # paths looked up and not there
        self.count = 0
        self._loaded = False
        self._valid = False
        self._reader: sqlite3.Connection | None = None

    def open(self) -> bool:
        """Whether the store describes the site its tag names (else the build is full)."""
        try:
            rows = dict(self._read().execute("SELECT k, v FROM meta"))
        except sqlite3.Error:
            self.close()
            return False
        self._valid = rows.get("tag") == self.tag and str(rows.get("count", "")).isdigit()
        self.count = int(rows["count"]) if self._valid else 0
        return self._valid

    def forget(self) -> None:
        """A full build: nothing is published."""
        self._valid, self._loaded, self.count = False, True, 0
        self.known.clear()

    def get(self, rel: str) -> str | None:
        known = self.known.get(rel)
        if known is not None or self._loaded or rel in self._missing:
            return known
        row = self._read().execute("SELECT v FROM pages WHERE k = ?", (rel,)).fetchone()
        if row is None:
            self._missing.add(rel)
            return None
        self.known[rel] = row[0]
        return str(row[0])

    def load(self) -> None:
        """Every entry, at once (a build that goes through the whole folder)."""
        if self._loaded:
            return
        self.known.update(self._read().execute("SELECT k, v FROM pages"))
        self._loaded = True

    def load_folder(self, folder: str) -> None:
        """Every entry under `folder` (ending in "/")."""
        if self._loaded:
            return
        end = folder[:-1] + chr(ord("/") + 1)
        rows = self._read().execute("SELECT k, v FROM pages WHERE k >= ? AND k < ?", (folder, end))
        self.known.update(rows)

    def replace(self, entries: Mapping[str, str]) -> None:
        """Make the store hold `entries` and nothing else, for the site tagged `tag`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM pages")
            db.executemany("INSERT INTO pages VALUES (?, ?)", entries.items())
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                (("tag", self.tag), ("count", str(len(entries)))),
            )

    def apply(self, changes: Mapping[str, str | None], count: int) -> None:
        """Record `changes` (None: gone), after which the store holds `count` entries.
        Applying them twice is harmless (a publish finished by `recover`)."""
        with closing(self._connect()) as db, db:
            db.executemany(
                "INSERT OR REPLACE INTO pages VALUES (?, ?)",
                ((rel, value) for rel, value in changes.items() if value is not None),
            )
            db.executemany(
                "DELETE FROM pages WHERE k = ?",
                ((rel,) for rel, value in changes.items() if value is None),
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('count', ?)", (str(count),))

    def close(self) -> None:
        """Done looking up (before rendering forks workers)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _read(self) -> sqlite3.Connection:
        if self._reader is None:
            self._reader = self._connect()
        return self._reader

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level="DEFERRED")
        use_wal(db)
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS pages (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")
        db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")
        return db


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def recover(output: Path) -> None:
    """Finish an incremental publish that a killed process left half done."""
    journal = output.parent / f".{output.name}.journal"
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except ValueError:
        # A torn journal means the process died while writing it: nothing was moved yet.
        journal.unlink()
        return
    staging = Path(plan["staging"])
    for move in plan["moves"]:
        name, rel = (move, move) if isinstance(move, str) else move  # str: laid out as the site
        source = staging / name
        if source.exists():
            (output / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, output / rel)
    for rel in plan["deletes"]:
        (output / rel).unlink(missing_ok=True)
        _prune_empty_parents(output, output / rel)
    manifest = plan.get("manifest")
    if manifest:
        inside = manifest["alerts"]
        AlertPages(Path(inside["path"]), "").apply(inside["changes"], inside["count"])
        append(Path(manifest["log"]), manifest["base"], manifest["changes"])
        _write_json(Path(manifest["summary"]), manifest["summary_data"])
    journal.unlink()
    shutil.rmtree(staging, ignore_errors=True)


def _staged_name(rel: str) -> str:
    return hashlib.sha256(rel.encode()).hexdigest()


def _prune_empty_parents(root: Path, path: Path) -> None:
    parent = path.parent
    while parent != root and parent.is_relative_to(root):
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _swap_in(staging: Path, output: Path) -> None:
    """Put the staged folder where the output folder is, and remove the old one."""
    if output.exists() and _exchange(staging, output):
        shutil.rmtree(staging)
        return
    old = output.parent / f".{output.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if output.exists():
        os.rename(output, old)
    os.rename(staging, output)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.EXDEV, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), "cannot swap the new site into place", str(b))
