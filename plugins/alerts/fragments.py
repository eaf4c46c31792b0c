"""Rendered pieces that many outputs share (a feed entry appears in many feeds), kept
across builds so that a piece whose inputs did not change is never rendered again."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path


class FragmentStore:
    """A key-value store of rendered bytes: in memory for this build, SQLite between builds.

    Keys must name every input of the fragment (callers hash them). A forked worker opens
    its own connection (one must never cross a fork) and saves what it rendered with
    `save()` after each batch of work.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: dict[str, bytes] = {}
        self._new: dict[str, bytes] = {}
        self._db: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self.rendered = 0

    def _connection(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._pid != os.getpid():
            # We are a forked worker: the parent's connection is not ours to use.
            self._db, self._pid = None, os.getpid()
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = sqlite3.connect(self.path, timeout=30)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS fragment (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
                )
            except sqlite3.DatabaseError:
                # A damaged cache is only a slower build: start it again.
                self.path.unlink(missing_ok=True)
                self._db = sqlite3.connect(self.path)
                self._db.execute(
                    "CREATE TABLE fragment (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
                )
        return self._db

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
        else:
            value = render()
            self.rendered += 1
            self._new[key] = value
        self._memory[key] = value
        return value

    def save(self, prune: bool = False) -> None:
        """Keep this build's new fragments; with `prune`, drop every fragment it did not use."""
        db = self._connection()
        if db is None:
            return
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO fragment (key, value) VALUES (?, ?)", self._new.items()
            )
            if prune:
                db.execute("CREATE TEMP TABLE used (key TEXT PRIMARY KEY)")
                db.executemany("INSERT INTO used (key) VALUES (?)", ((k,) for k in self._memory))
                db.execute("DELETE FROM fragment WHERE key NOT IN (SELECT key FROM used)")
                db.execute("DROP TABLE used")
        self._new.clear()

    def close(self) -> None:
        if self._db is not None and self._pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
