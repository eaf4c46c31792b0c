"""The revisions journal: one line per revision, and the digest chained over an alert's lines."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Final

from .report import Revision

DIGEST_SIZE: Final = 32  # hex digits of a history digest: 128 bits
_KINDS: Final = frozenset({"added", "corrected", "withdrawn", "changed"})
# What json.dumps(..., ensure_ascii=False) writes for a string (the same C function it uses).
_QUOTE: Final = json.encoder.encode_basestring


def revision_line(alert: str, revision: Revision) -> bytes:
    """The journal line of one revision: the bytes a history digest is chained over.

    The JSON list [alert, commit, committed_at, committer_email, signer_fingerprint,
    verified, kind, note, diff], as json.dumps writes it with ensure_ascii=False and
    separators (",", ":"), written out field by field: a first audit writes one per alert,
    and the encoder's set-up costs more than the writing.
    """
    quote = _QUOTE
    fingerprint, note = revision.signer_fingerprint, revision.note
    return (
        f"[{quote(alert)},{quote(revision.commit)},{quote(revision.committed_at.isoformat())},"
        f"{quote(revision.committer_email)},"
        f"{'null' if fingerprint is None else quote(fingerprint)},"
        f"{'true' if revision.verified else 'false'},{quote(revision.kind)},"
        f"{'null' if note is None else quote(note)},{quote(revision.diff)}]\n"
    ).encode()


def chain(digest: str, line: bytes) -> str:
    """The digest of a history after one more revision (`digest` is "" for none yet)."""
    return hashlib.sha256(digest.encode() + b"\n" + line).hexdigest()[:DIGEST_SIZE]


def parse_line(line: bytes) -> tuple[str, Revision]:
    """The alert and revision of one journal line; ValueError if it is not one."""
    row = json.loads(line)
    if not isinstance(row, list) or len(row) != 9:
        raise ValueError(f"not a revision: {line[:80]!r}")
    alert, commit, committed_at, email, fingerprint, verified, kind, note, diff = row
    if (
        kind not in _KINDS
        or not all(isinstance(text, str) for text in (alert, commit, email, diff))
        or not isinstance(verified, bool)
        or not isinstance(fingerprint, str | None)
        or not isinstance(note, str | None)
    ):
        raise ValueError(f"not a revision: {line[:80]!r}")
    moment = datetime.fromisoformat(committed_at)
    return alert, Revision(commit, moment, email, fingerprint, verified, kind, note, diff)
