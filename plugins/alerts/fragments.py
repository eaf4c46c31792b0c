"""Rendered pieces that many outputs share (a feed entry appears in many feeds), kept
across builds so that a piece whose inputs did not change is never rendered again."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from .wal import use_wal

# Bumped when the table's shape changes: an older store is dropped, not migrated (it is
# only a cache).
_SCHEMA_VERSION = 3
_CREATE = (
    "CREATE TABLE IF NOT EXISTS fragment "
    "(key TEXT PRIMARY KEY, value BLOB NOT NULL, used INTEGER NOT NULL DEFAULT 0)",
    # One value per slot (a place in a page), replaced when its key changes: for large
    # pieces that change often, which as fragments would pile up until the next full build.
    "CREATE TABLE IF NOT EXISTS slot "
    "(slot TEXT PRIMARY KEY, key TEXT NOT NULL, value BLOB NOT NULL, "
    "used INTEGER NOT NULL DEFAULT 0)",
)
# SQLite's default limit on host parameters in one statement is 999 on older builds.
_LOOKUP_CHUNK = 500


class FragmentStore:
    """A key-value store of rendered bytes: in memory for this build, SQLite between builds.

    Keys must name every input of the fragment (callers hash them). A forked worker opens
    its own connection (one must never cross a fork) and saves what it rendered with
    `save()` after each batch of work.

    A build that prunes (a full build) first calls `track_use()`: from then on every
    fragment used, by this process or by any worker forked from it, is marked with the
    build's generation when saved, and `save(prune=True)` drops only unmarked ones. (Pruning
    by what the parent process alone used would drop everything its workers rendered.)
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: dict[str, bytes] = {}
        self._new: dict[str, bytes] = {}
        self._hits: list[str] = []
        self._new_slots: dict[str, tuple[str, bytes]] = {}
        self._slot_hits: list[str] = []
        self._generation: int | None = None
        self._db: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self.rendered = 0

    def _connection(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._pid != os.getpid():
            # We are a forked worker: the parent's connection is not ours to use, and what
            # the parent had still to save is the parent's to save.
            self._db, self._pid = None, os.getpid()
            self._new.clear()
            self._hits.clear()
            self._new_slots.clear()
            self._slot_hits.clear()
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = _open(self.path)
            except sqlite3.DatabaseError:
                # A damaged cache is only a slower build: start it again.
                self.path.unlink(missing_ok=True)
                self._db = _open(self.path)
        return self._db

    def track_use(self) -> None:
        """Mark every fragment this build uses, so that `save(prune=True)` keeps them."""
        db = self._connection()
        if db is None:
            return
        (latest,) = db.execute(
            "SELECT max(coalesce((SELECT max(used) FROM fragment), 0),"
            " coalesce((SELECT max(used) FROM slot), 0))"
        ).fetchone()
        self._generation = int(latest) + 1

    def get(self, key: str, render: Callable[[], bytes]) -> bytes:
        value = self._memory.get(key)
        if value is not None:
            return value
        db = self._connection()
        row = (
            db.execute("SELECT value FROM fragment WHERE key = ?", (key,)).fetchone()
            if db
            else None
        )
        if row is not None:
            value = bytes(row[0])
            if self._generation is not None:
                self._hits.append(key)
        else:
            value = render()
            self.rendered += 1
            self._new[key] = value
        self._memory[key] = value
        return value

    def get_many(self, keys: Sequence[str], render: Callable[[int], bytes]) -> list[bytes]:
        """The fragment of each key, in order; `render(i)` makes the one for `keys[i]` when
        it is not stored. One query per few hundred keys, not one per key: a listing page
        can hold thousands."""
        memory = self._memory
        missing = list({key for key in keys if key not in memory})
        db = self._connection() if missing else None
        if db is not None:
            for start in range(0, len(missing), _LOOKUP_CHUNK):
                chunk = missing[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT key, value FROM fragment WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, value in rows:
                    memory[key] = bytes(value)
                    if self._generation is not None:
                        self._hits.append(key)
        pieces = []
        for index, key in enumerate(keys):
            value = memory.get(key)
            if value is None:
                value = render(index)
                self.rendered += 1
                self._new[key] = value
                memory[key] = value
            pieces.append(value)
        return pieces

    def get_slot(self, slot: str, key: str, render: Callable[[], bytes]) -> bytes:
        """The value kept in `slot` if it was made from `key`, else `render()`'s, which
        replaces it when saved."""
        db = self._connection()
        row = (
            db.execute("SELECT key, value FROM slot WHERE slot = ?", (slot,)).fetchone()
            if db
            else None
        )
        if row is not None and row[0] == key:
            if self._generation is not None:
                self._slot_hits.append(slot)
            return bytes(row[1])
        value = render()
        self._new_slots[slot] = (key, value)
        return value

    def save(self, prune: bool = False) -> None:
        """Keep this build's new fragments; with `prune` (after `track_use()`), drop every
        fragment no process of this build used."""
        db = self._connection()
        if db is None:
            return
        generation = self._generation or 0
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO fragment (key, value, used) VALUES (?, ?, ?)",
                ((key, value, generation) for key, value in self._new.items()),
            )
            db.executemany(
                "INSERT OR REPLACE INTO slot (slot, key, value, used) VALUES (?, ?, ?, ?)",
                ((slot, key, value, generation) for slot, (key, value) in self._new_slots.items()),
            )
            if self._generation is not None:
                db.executemany(
                    "UPDATE fragment SET used = ? WHERE key = ?",
                    ((generation, key) for key in self._hits),
                )
                db.executemany(
                    "UPDATE slot SET used = ? WHERE slot = ?",
                    ((generation, slot) for slot in self._slot_hits),
                )
            if prune and self._generation is not None:
                db.execute("DELETE FROM fragment WHERE used != ?", (generation,))
                db.execute("DELETE FROM slot WHERE used != ?", (generation,))
        self._new.clear()
        self._hits.clear()
        self._new_slots.clear()
        self._slot_hits.clear()

    def close(self) -> None:
        if self._db is not None and self._pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30)
    use_wal(db)
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version != _SCHEMA_VERSION:
        with db:
            db.execute("DROP TABLE IF EXISTS fragment")
            db.execute("DROP TABLE IF EXISTS slot")
            for create in _CREATE:
                db.execute(create)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    return db
