"""What the rules need of each commit, as read from git: parents, signers files, alert edits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SignersState:
    """The blob ids of the allowed-signers and revoked-keys files in a tree (None: absent)."""

    allowed: str | None
    revoked: str | None


@dataclass(frozen=True)
class AlertVersion:
    """The front-matter fields of one version of an alert file that edits must respect.

    Values are kept as canonical JSON of what YAML read, so that two versions compare exactly
    as written, whatever their types; `error` says why the version could not be read.
    """

    issued: str | None
    withdrawn: bool
    corrections: tuple[str, ...]
    error: str | None = None


@dataclass(frozen=True)
class AlertChange:
    """A change a commit made to an alert file, with both versions when it was an edit."""

    status: str  # git's letter: A, M, T, D or R
    old_path: str | None  # None when added
    new_path: str | None  # None when deleted
    old: AlertVersion | None  # read for edits only
    new: AlertVersion | None
    diff: str  # unified diff of an edit or rename; empty otherwise


@dataclass(frozen=True)
class CommitRecord:
    """One commit as the rules need it: parents, committer, signers files and alert changes."""

    oid: str
    parents: tuple[str, ...]
    committer_email: str
    committer_date: datetime
    parent_signers: SignersState | None  # as in the first parent; None for a root commit
    signers: SignersState  # as in the commit itself
    signers_changes: tuple[str, ...]  # paths under the signers folder that the commit changed
    alert_changes: tuple[AlertChange, ...]


def correction_note(entry: str) -> str | None:
    """The note of a corrections entry kept as canonical JSON, if it has a text one."""
    value = json.loads(entry)
    note = value.get("note") if isinstance(value, dict) else None
    return note.strip() if isinstance(note, str) else None


def canonical(value: object) -> str:
    """The one JSON spelling of a YAML value, to compare two versions of a field."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
