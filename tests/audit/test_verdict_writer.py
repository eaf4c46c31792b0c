"""Verdicts written while the audit adds up its totals: by a writer forked ahead when there
are many."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit import verdicts
from audit.errors import AuditError
from audit.verdicts import FORK_AT, CachedVerdicts, Verdict, load_verdicts, verdict_writer

GOOD = Verdict(None, "", True, "SHA256:abc", "ssh-ed25519", "a@police.example")
SEEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def fresh(count: int) -> CachedVerdicts:
    oids = [f"{number:040x}" for number in range(count)]
    return CachedVerdicts({oid: ("d" * 64, GOOD) for oid in oids}, dict.fromkeys(oids, SEEN))


def writers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make each save note the process it ran in, in the file returned."""
    notes = tmp_path / "writers"
    save = verdicts.save_verdicts

    def noted(*arguments: object, **options: object) -> None:
        with notes.open("a") as stream:
            stream.write(f"{os.getpid()}\n")
        save(*arguments, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(verdicts, "save_verdicts", noted)
    return notes


def test_many_verdicts_are_written_by_another_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = writers(tmp_path, monkeypatch)
    many = fresh(FORK_AT)
    with verdict_writer(tmp_path / "cache", None, FORK_AT) as save:
        save(many)
    assert not notes.exists()  # the writer did not need save_verdicts' retry
    assert load_verdicts(tmp_path / "cache") == many
    left = {path.name for path in (tmp_path / "cache" / "verdicts").glob("*.json*")}
    assert left == {f"{oid[:2]}.json" for oid in many.verdicts}  # no temporary file is left


def test_a_few_verdicts_are_written_here_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = writers(tmp_path, monkeypatch)
    few = fresh(3)
    with verdict_writer(tmp_path / "cache", None, 3) as save:
        save(few)
        assert notes.read_text().split() == [str(os.getpid())]
        assert load_verdicts(tmp_path / "cache") == few


def test_a_full_audit_keeps_only_what_it_says(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with verdict_writer(cache, None, FORK_AT) as save:
        save(fresh(FORK_AT))
    kept = fresh(FORK_AT // 2)
    with verdict_writer(cache, set(kept.verdicts), FORK_AT) as save:
        save(kept)
    assert load_verdicts(cache) == kept


def test_the_writers_error_is_raised_here(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / verdicts.CACHE_FOLDER).mkdir(parents=True)
    (cache / verdicts.CACHE_FOLDER / "00.json").write_text('{"version": 99}')
    with (
        pytest.raises(AuditError, match="malformed verdict cache"),
        verdict_writer(cache, None, FORK_AT) as save,
    ):
        save(fresh(FORK_AT))


def test_the_verdicts_are_saved_even_if_the_block_fails_after(tmp_path: Path) -> None:
    many = fresh(FORK_AT)
    with (
        pytest.raises(ZeroDivisionError),
        verdict_writer(tmp_path / "cache", None, FORK_AT) as save,
    ):
        save(many)
        _ = 1 / 0
    assert load_verdicts(tmp_path / "cache") == many


def test_a_block_that_fails_before_its_verdicts_leaves_the_cache_as_it_was(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(ZeroDivisionError), verdict_writer(cache, None, FORK_AT):
        _ = 1 / 0
    assert load_verdicts(cache) == CachedVerdicts({}, {})
    assert not list((cache / verdicts.CACHE_FOLDER).glob("*.json*"))
    # The writer let go of the cache's lock.
    with verdict_writer(cache, None, 3) as save:
        save(fresh(3))
