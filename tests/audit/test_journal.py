"""A journal line is the JSON list json.dumps writes, byte for byte: history digests, and so
the history pages' keys, are chained over these bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from audit.journal import parse_line, revision_line
from audit.report import Revision

texts = st.text()
maybe_texts = st.none() | st.text()
moments = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))]))
kinds = st.sampled_from(["added", "corrected", "withdrawn", "changed"])


def reference(alert: str, revision: Revision) -> bytes:
    row = [
        alert,
        revision.commit,
        revision.committed_at.isoformat(),
        revision.committer_email,
        revision.signer_fingerprint,
        revision.verified,
        revision.kind,
        revision.note,
        revision.diff,
    ]
    return (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


@given(texts, texts, moments, texts, maybe_texts, st.booleans(), kinds, maybe_texts, texts)
def test_a_line_is_what_json_dumps_writes(
    alert: str,
    commit: str,
    committed_at: datetime,
    email: str,
    fingerprint: str | None,
    verified: bool,
    kind: str,
    note: str | None,
    diff: str,
) -> None:
    revision = Revision(commit, committed_at, email, fingerprint, verified, kind, note, diff)
    line = revision_line(alert, revision)
    assert line == reference(alert, revision)
    assert parse_line(line) == (alert, revision)


def test_a_usual_line() -> None:
    revision = Revision(
        "ab" * 20,
        datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        "alice@police.example",
        "SHA256:abc",
        True,
        "corrected",
        'a "quoted" note \u2013 with\nnewline',
        "--- a/x\n+++ b/x\n",
    )
    line = revision_line("2024-05-01-x", revision)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert line == reference("2024-05-01-x", revision)
