"""Verdicts written while the audit folds its totals: by a forked writer when there are many."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit import verdicts
from audit.errors import AuditError
from audit.verdicts import FORK_AT, CachedVerdicts, Verdict, load_verdicts, saving_verdicts

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
    with saving_verdicts(tmp_path / "cache", many):
        pass
    assert notes.read_text().split() != [str(os.getpid())]
    assert load_verdicts(tmp_path / "cache") == many


def test_a_few_verdicts_are_written_here_after_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = writers(tmp_path, monkeypatch)
    few = fresh(3)
    with saving_verdicts(tmp_path / "cache", few):
        assert not notes.exists()
    assert notes.read_text().split() == [str(os.getpid())]
    assert load_verdicts(tmp_path / "cache") == few


def test_the_writers_error_is_raised_here(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / verdicts.CACHE_FOLDER).mkdir(parents=True)
    (cache / verdicts.CACHE_FOLDER / "00.json").write_text('{"version": 99}')
    with (
        pytest.raises(AuditError, match="malformed verdict cache"),
        saving_verdicts(cache, fresh(FORK_AT)),
    ):
        pass


def test_the_verdicts_are_saved_even_if_the_block_fails(tmp_path: Path) -> None:
    many = fresh(FORK_AT)
    with pytest.raises(ZeroDivisionError), saving_verdicts(tmp_path / "cache", many):
        _ = 1 / 0
    assert load_verdicts(tmp_path / "cache") == many
