"""The write-ahead log every cache store uses (the content store, fragments, alert pages)."""

from __future__ import annotations

import sqlite3

# A cold build writes every alert's body in a few transactions, and SQLite keeps a log file
# as large as the largest it ever wrote (about the database's size: 415 MB at 100,000
# alerts); every later build then pays for it. Past this size the log is cut back after
# each checkpoint.
WAL_LIMIT_BYTES = 8 << 20


def use_wal(db: sqlite3.Connection) -> None:
    """Write-ahead logging (readers in forked workers do not block the writer), kept small."""
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
