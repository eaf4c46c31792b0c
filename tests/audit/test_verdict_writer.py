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


def halves(all_of: CachedVerdicts) -> dict[int, CachedVerdicts]:
    """`all_of` cut in two runs, keyed by where each starts."""
    oids = list(all_of.verdicts)
    middle = len(oids) // 2
    return {
        start: CachedVerdicts(
            {oid: all_of.verdicts[oid] for oid in run},
            {oid: all_of.first_seen[oid] for oid in run},
        )
        for start, run in ((0, oids[:middle]), (middle, oids[middle:]))
    }


def shard_files(cache: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (cache / "verdicts").iterdir()}


def sent_from_a_fork(save: verdicts.VerdictSaver, key: int, part: CachedVerdicts) -> None:
    # As a survey's worker does: a process forked within the block hands over its part.
    child = os.fork()
    if child == 0:
        os._exit(0 if save.part(key, part) else 1)
    assert os.waitpid(child, 0)[1] == 0


def test_verdicts_handed_over_in_parts_are_saved_as_if_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = writers(tmp_path, monkeypatch)
    many = fresh(FORK_AT * 2)
    with verdict_writer(tmp_path / "whole", None, len(many.verdicts)) as save:
        save(many)
    parts = halves(many)
    early = tmp_path / "early"
    put = verdicts._put_in_place

    def noted(deferred: list[tuple[str | None, Path]]) -> None:
        early.write_text(str(len(deferred)))
        put(deferred)

    # In the writer: the shards it made from the parts, before the audit named them, are
    # the ones put in place.
    monkeypatch.setattr(verdicts, "_put_in_place", noted)
    with verdict_writer(tmp_path / "parts", None, len(many.verdicts)) as save:
        sent_from_a_fork(save, FORK_AT, parts[FORK_AT])  # the later run may come first
        assert save.part(0, parts[0])
        save(many, [0, FORK_AT])
    assert not notes.exists()
    assert early.read_text() == str(len({oid[:2] for oid in many.verdicts}))
    assert shard_files(tmp_path / "parts") == shard_files(tmp_path / "whole")


@pytest.mark.parametrize("named", [[0], [0, 1], []])
def test_parts_not_named_as_handed_over_are_not_what_is_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: list[int]
) -> None:
    notes = writers(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    many = fresh(FORK_AT)
    parts = halves(many)
    with verdict_writer(cache, None, FORK_AT) as save:
        for key, part in parts.items():
            assert save.part(key, part)
        # What the audit names wins over the parts: some of them only, one never handed
        # over (the writer fails, and the audit saves them itself), or none (all sent now).
        save(many, named)
    assert load_verdicts(cache) == many
    assert notes.exists() == bool(named)
    assert not list((cache / "verdicts").glob("*.tmp"))


def test_a_block_that_fails_after_handing_over_parts_leaves_the_cache_as_it_was(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    many = fresh(FORK_AT)
    with pytest.raises(ZeroDivisionError), verdict_writer(cache, None, FORK_AT) as save:
        for key, part in halves(many).items():
            save.part(key, part)
        _ = 1 / 0
    assert load_verdicts(cache) == CachedVerdicts({}, {})
    assert not list((cache / verdicts.CACHE_FOLDER).glob("*.json*"))


def test_a_few_verdicts_are_not_handed_over_in_parts(tmp_path: Path) -> None:
    with verdict_writer(tmp_path / "cache", None, 3) as save:
        assert not save.part(0, fresh(3))
        save(fresh(3))
    assert load_verdicts(tmp_path / "cache") == fresh(3)
