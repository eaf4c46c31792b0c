"""Signature verdicts per commit, cached with the moment the publisher first saw each commit."""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final, TypeAlias

from .errors import AuditError
from .storage import cache_lock, parse_utc, read_json, utc_text, write_json

FORMAT_VERSION: Final = 1
CACHE_FOLDER: Final = "verdicts"
SHARD_GLOB: Final = "[0-9a-f][0-9a-f].json"
_WRITERS: Final = 8
# From this many verdicts on, a forked process writes them (a fork costs a few milliseconds).
FORK_AT: Final = 512
_LEGACY_GLOB: Final = "[0-9a-f].json"
_ALL_SHARDS: Final = tuple(f"{number:02x}" for number in range(256))

# A signer line's valid-after and valid-before (None: unbounded).
Window: TypeAlias = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Verdict:
    """What a commit's signature proves, judged against the signers files as in its parent.

    A pure function of the commit and those files, so it is cached under both. The time
    checks (rule 3) are not part of it: they depend on when the commit was first seen.
    """

    rule: str | None  # None if good; else the rule it breaks: "signed" or "identity"
    reason: str  # why it breaks it; empty if good
    signed: bool  # whether the commit carries a signature at all
    fingerprint: str | None  # of the key that signed, if the signature could be decoded
    algorithm: str | None
    principal: str | None  # the committer e-mail it is accepted for, or the key's principals
    windows: tuple[Window, ...] = ()  # of the lines accepting it for that e-mail

    @property
    def ok(self) -> bool:
        return self.rule is None


@dataclass(frozen=True)
class CachedVerdicts:
    """Verdicts keyed by commit with the digest of the signers files they were judged by."""

    verdicts: Mapping[str, tuple[str, Verdict]]
    first_seen: Mapping[str, datetime]

    def lookup(self, commit: str, digest: str) -> Verdict | None:
        found = self.verdicts.get(commit)
        return found[1] if found is not None and found[0] == digest else None


def signers_digest(parts: Iterable[bytes | None]) -> str:
    """The SHA-256 of the signers files a verdict rests on (None for a file that is absent)."""
    digest = hashlib.sha256()
    for part in parts:
        # Length-prefixed, so that no two different lists of files give the same bytes.
        if part is None:
            digest.update(b"-")
        else:
            digest.update(b"+" + len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def load_verdicts(cache_dir: Path | None, commits: Collection[str] | None = None) -> CachedVerdicts:
    """What the cache in `cache_dir` holds about `commits` (None: about every commit).

    The cache is split by the first two digits of the commit id, so that an audit of a few
    new commits reads a 256th of it, not all. AuditError names a malformed file.
    """
    if cache_dir is None:
        return CachedVerdicts({}, {})
    folder = cache_dir / CACHE_FOLDER
    _migrate(cache_dir)
    if commits is None:
        shards = sorted(path.stem for path in folder.glob(SHARD_GLOB))
    else:
        shards = sorted({_shard(oid) for oid in commits})
    verdicts: dict[str, tuple[str, Verdict]] = {}
    first_seen: dict[str, datetime] = {}
    for shard in shards:
        for oid, (digest, verdict, when) in _read_shard(folder, shard).items():
            if commits is not None and oid not in commits:
                continue
            if verdict is not None:
                verdicts[oid] = (digest, verdict)
            if when is not None:
                first_seen[oid] = when
    return CachedVerdicts(verdicts, first_seen)


def save_verdicts(
    cache_dir: Path | None, fresh: CachedVerdicts, keep: Collection[str] | None = None
) -> None:
    """Add `fresh` verdicts and first-seen times to the cache in `cache_dir`.

    A first-seen time already cached is never moved later. With `keep`, every commit not in
    it is dropped from the cache (after a full audit: what left the history of HEAD).
    """
    if cache_dir is None:
        return
    with _shards_lock(cache_dir):
        _save_locked(cache_dir, fresh, keep, {})


# Temporary files made ahead, by shard: an open handle and the path.
_MadeAhead: TypeAlias = dict[str, tuple[int, str]]


# A shard written but not in place yet: its temporary file (None: the shard is to go), and
# the shard's path.
_Deferred: TypeAlias = tuple[str | None, Path]


def _save_locked(
    cache_dir: Path,
    fresh: CachedVerdicts,
    keep: Collection[str] | None,
    ahead: _MadeAhead,
    deferred: list[_Deferred] | None = None,
) -> None:
    """`save_verdicts`, the cache's lock held; a shard's file in `ahead` is written into.

    With `deferred`, those shards are written and flushed but left for the caller to put
    in place (`_put_in_place`) or throw away (`_thrown_away`)."""
    folder = cache_dir / CACHE_FOLDER
    _migrate_locked(folder)
    by_shard: dict[str, list[str]] = {}
    for oid in {**fresh.verdicts, **fresh.first_seen}:
        by_shard.setdefault(_shard(oid), []).append(oid)

    def update(shard: str) -> None:
        entries = _read_shard(folder, shard)
        for oid in by_shard[shard]:
            entries[oid] = _merged(entries.get(oid), oid, fresh)
        if keep is not None:
            entries = {oid: entry for oid, entry in entries.items() if oid in keep}
        _write_shard(folder, shard, entries, ahead.pop(shard, None), deferred)

    if keep is not None:
        by_shard.update({p.stem: by_shard.get(p.stem, []) for p in folder.glob(SHARD_GLOB)})
    if len(by_shard) <= _WRITERS:
        for shard in sorted(by_shard):
            update(shard)
    else:
        # A first audit writes every shard: their flushes to disk wait side by side.
        with ThreadPoolExecutor(_WRITERS) as pool:
            list(pool.map(update, sorted(by_shard)))


class VerdictSaver:
    """What verdict_writer gives: call it once with an audit's verdicts, which are saved by
    the time the block ends. This one saves them at once, here."""

    def __init__(self, cache_dir: Path | None, keep: Collection[str] | None) -> None:
        self._cache_dir, self._keep = cache_dir, keep

    def part(self, key: int, fresh: CachedVerdicts) -> bool:
        """Hand over early the verdicts of one run of commits, named by `key` (where the run
        starts among the audit's commits); whether they were handed over. Here: never, as
        they are saved at once."""
        return False

    def __call__(self, fresh: CachedVerdicts, parts: Sequence[int] = ()) -> None:
        """Save `fresh`, every verdict of the audit. `parts`: the keys of the parts handed
        over, which together hold exactly `fresh` (empty: send `fresh` itself)."""
        save_verdicts(self._cache_dir, fresh, self._keep)


class _ForkedSaver(VerdictSaver):
    """Sends the verdicts to the writer forked by verdict_writer. `part` may be called in any
    process forked from this one within the block (a survey's worker sends its run's verdicts
    straight to the writer, rather than through the audit, which gets them only later)."""

    def __init__(self, cache_dir: Path, keep: Collection[str] | None, send: Connection) -> None:
        super().__init__(cache_dir, keep)
        self._send = send
        # One message at a time in the pipe, whichever process sends it.
        self._lock = multiprocessing.get_context("fork").Lock()
        self.given: list[CachedVerdicts] = []

    def part(self, key: int, fresh: CachedVerdicts) -> bool:
        return self._message(("part", key, fresh))

    def __call__(self, fresh: CachedVerdicts, parts: Sequence[int] = ()) -> None:
        self.given.append(fresh)
        if parts:
            self._message(("parts", list(parts), len(fresh.verdicts), len(fresh.first_seen)))
        else:
            self._message(("all", fresh))

    def _message(self, message: tuple[Any, ...]) -> bool:
        # A writer that has failed already is seen when the block ends.
        with self._lock, contextlib.suppress(OSError):
            self._send.send(message)
            return True
        return False


@contextlib.contextmanager
def verdict_writer(
    cache_dir: Path | None, keep: Collection[str] | None, expected: int
) -> Iterator[VerdictSaver]:
    """A saver to call once with an audit's verdicts, which saves them by the time the
    block ends (`keep` as for save_verdicts).

    With `expected` many commits to judge (a first audit, which writes every shard), a
    process forked as the block starts gets ready meanwhile: it takes the cache's lock and
    makes the temporary file of every shard, which on some file systems is the slow part of
    writing them; the verdicts are then handed to it, and it writes them on another core.
    They may be handed over in parts, as each run of commits is judged (VerdictSaver.part).
    Should it fail, they are saved again here, which raises the error it met, if any.
    """
    if cache_dir is None or expected < FORK_AT or "fork" not in _start_methods():
        yield VerdictSaver(cache_dir, keep)
        return
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    writer = multiprocessing.get_context("fork").Process(
        target=_write_when_given, args=(receive, send, cache_dir, keep, expected), daemon=True
    )
    writer.start()
    receive.close()
    saver = _ForkedSaver(cache_dir, keep, send)
    try:
        yield saver
    finally:
        send.close()  # a writer still waiting learns that no verdicts will come
        writer.join()
        if saver.given and writer.exitcode != 0:
            save_verdicts(cache_dir, saver.given[0], keep)


def _write_when_given(
    receive: Connection,
    send: Connection,
    cache_dir: Path,
    keep: Collection[str] | None,
    expected: int,
) -> None:
    # In the forked writer: an error is told by the exit code, and met again by the parent.
    # Its copy of the sending end is closed, so that the parent's closing it ends `recv`.
    send.close()
    try:
        with _shards_lock(cache_dir), _made_ahead(cache_dir / CACHE_FOLDER) as ahead:
            _write_given(receive, cache_dir, keep, ahead, expected)
    except BaseException:
        sys.exit(1)


def _write_given(
    receive: Connection,
    cache_dir: Path,
    keep: Collection[str] | None,
    ahead: _MadeAhead,
    expected: int,
) -> None:
    """Save the verdicts the audit hands over: whole, or in parts and then which parts.

    Once parts hold `expected` many verdicts (one per commit of the audit), the shards are
    written and flushed at once, while the audit still adds up its totals, and put in place
    when the audit names the same parts; else (or if the audit ends first) thrown away.
    """
    parts: dict[int, CachedVerdicts] = {}
    early: tuple[list[int], list[_Deferred]] | None = None
    try:
        while True:
            try:
                message = receive.recv()
            except EOFError:
                return  # the audit ended before its verdicts were known
            if message[0] == "part":
                parts[message[1]] = message[2]
                verdict_count = sum(len(part.verdicts) for part in parts.values())
                seen_count = sum(len(part.first_seen) for part in parts.values())
                if early is None and verdict_count == seen_count == expected:
                    keys, deferred = sorted(parts), list[_Deferred]()
                    early = (keys, deferred)
                    _save_locked(cache_dir, _joined(parts, keys), keep, ahead, deferred)
                continue
            if early is not None and message == ("parts", early[0], expected, expected):
                # The audit names the very parts the shards were written from.
                _put_in_place(early[1])
                early = None
                return
            if message[0] == "all":
                fresh = message[1]
            else:
                fresh = _joined(parts, message[1])
                if (len(fresh.verdicts), len(fresh.first_seen)) != tuple(message[2:]):
                    raise AuditError("the parts handed over are not all of the verdicts")
            _save_locked(cache_dir, fresh, keep, ahead)
            return
    finally:
        if early is not None:
            _thrown_away(early[1])


def _joined(parts: Mapping[int, CachedVerdicts], keys: Sequence[int]) -> CachedVerdicts:
    """The parts named by `keys`, in that order, as one; KeyError if one was not given."""
    chosen = [parts[key] for key in keys]
    return CachedVerdicts(
        {oid: found for part in chosen for oid, found in part.verdicts.items()},
        {oid: when for part in chosen for oid, when in part.first_seen.items()},
    )


def _put_in_place(deferred: list[_Deferred]) -> None:
    for temporary, path in deferred:
        if temporary is None:
            path.unlink(missing_ok=True)
        else:
            os.replace(temporary, path)


def _thrown_away(deferred: list[_Deferred]) -> None:
    for temporary, _ in deferred:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


@contextlib.contextmanager
def _made_ahead(folder: Path) -> Iterator[_MadeAhead]:
    """A temporary file for every shard there can be; those left unused are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    ahead: _MadeAhead = {}
    try:
        for shard in _ALL_SHARDS:
            ahead[shard] = tempfile.mkstemp(dir=folder, prefix=f".{shard}.json.", suffix=".tmp")
        yield ahead
    finally:
        for handle, temporary in ahead.values():
            os.close(handle)
            Path(temporary).unlink(missing_ok=True)


def _start_methods() -> list[str]:
    return multiprocessing.get_all_start_methods()


def _merged(entry: _Entry | None, oid: str, fresh: CachedVerdicts) -> _Entry:
    digest, verdict, when = entry or ("", None, None)
    if oid in fresh.verdicts:
        digest, verdict = fresh.verdicts[oid]
    if oid in fresh.first_seen:
        new = fresh.first_seen[oid]
        when = new if when is None else min(when, new)
    return digest, verdict, when


def _shard(oid: str) -> str:
    return oid[:2]


def _shards_lock(cache_dir: Path) -> contextlib.AbstractContextManager[None]:
    """The lock of the verdict shards: one audit at a time writes them. It is theirs alone,
    so that the totals are saved while a first audit's writer is still at its shards."""
    return cache_lock(cache_dir / CACHE_FOLDER)


def _migrate(cache_dir: Path) -> None:
    """Split the shards of an older cache (one per first digit) into today's, once: their
    first-seen times cannot be had again, so they are moved, never dropped."""
    folder = cache_dir / CACHE_FOLDER
    if not any(folder.glob(_LEGACY_GLOB)):
        return
    with _shards_lock(cache_dir):
        _migrate_locked(folder)


def _migrate_locked(folder: Path) -> None:
    for legacy in sorted(folder.glob(_LEGACY_GLOB)):
        by_shard: dict[str, dict[str, _Entry]] = {}
        for oid, entry in _read_shard(folder, legacy.stem).items():
            by_shard.setdefault(_shard(oid), {})[oid] = entry
        for shard, entries in by_shard.items():
            _write_shard(folder, shard, {**_read_shard(folder, shard), **entries})
        legacy.unlink()


_Entry: TypeAlias = tuple[str, Verdict | None, datetime | None]


def _read_shard(folder: Path, shard: str) -> dict[str, _Entry]:
    path = folder / f"{shard}.json"
    data = read_json(path)
    if data is None:
        return {}
    try:
        if data["version"] != FORMAT_VERSION:
            raise ValueError(f"unknown version {data['version']!r}")
        verdicts = [_verdict(item) for item in data["verdicts"]]
        times: dict[str, datetime] = {}
        entries = {}
        for oid, (digest, verdict, when) in data["commits"].items():
            if when is not None and when not in times:
                times[when] = parse_utc(when, "first_seen")
            entries[str(oid)] = (
                str(digest),
                None if verdict is None else verdicts[verdict],
                None if when is None else times[when],
            )
        return entries
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        # First-seen times cannot be rebuilt for unpublished commits, so a broken file is
        # reported, never silently replaced.
        raise AuditError(f"{path}: malformed verdict cache ({error!r})") from None


def _write_shard(
    folder: Path,
    shard: str,
    entries: Mapping[str, _Entry],
    ahead: tuple[int, str] | None = None,
    deferred: list[_Deferred] | None = None,
) -> None:
    """Write a shard, into the temporary file made `ahead` for it if there is one (and
    then, with `deferred`, leave it there and note it)."""
    path = folder / f"{shard}.json"
    if not entries:
        if ahead is not None:
            os.close(ahead[0])
            Path(ahead[1]).unlink(missing_ok=True)
        if deferred is not None:
            deferred.append((None, path))
        else:
            path.unlink(missing_ok=True)
        return
    # Most commits share their verdict with many others: each distinct one is written once,
    # and read back as one object, and commits refer to it by its place in the list. They
    # share their first-seen time too (a first audit's clock): each is spelled once.
    verdicts: dict[Verdict, int] = {}
    times: dict[datetime, str] = {}
    commits = {}
    for oid, (digest, verdict, when) in entries.items():
        index = None if verdict is None else verdicts.setdefault(verdict, len(verdicts))
        text = None
        if when is not None:
            text = times.get(when)
            if text is None:
                text = times[when] = utc_text(when)
        commits[oid] = [digest, index, text]
    data = {
        "version": FORMAT_VERSION,
        "verdicts": [_verdict_json(verdict) for verdict in verdicts],
        "commits": commits,
    }
    if ahead is None:
        write_json(path, data, indent=None)
        return
    handle, temporary = ahead
    try:
        with os.fdopen(handle, "wb") as stream:
            # What write_json writes, flushed to disk before it replaces the shard.
            text = json.dumps(data, indent=None, sort_keys=True, ensure_ascii=False)
            stream.write((text + "\n").encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        if deferred is not None:
            deferred.append((temporary, path))
        else:
            os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _verdict_json(verdict: Verdict) -> list[Any]:
    return [
        verdict.rule,
        verdict.reason,
        verdict.signed,
        verdict.fingerprint,
        verdict.algorithm,
        verdict.principal,
        [[_time_json(after), _time_json(before)] for after, before in verdict.windows],
    ]


def _verdict(item: list[Any]) -> Verdict:
    rule, reason, signed, fingerprint, algorithm, principal, windows = item
    if rule not in (None, "signed", "identity"):
        raise ValueError(f"unknown rule {rule!r}")
    return Verdict(
        rule=rule,
        reason=str(reason),
        signed=bool(signed),
        fingerprint=fingerprint,
        algorithm=algorithm,
        principal=principal,
        windows=tuple((_time(after), _time(before)) for after, before in windows),
    )


def _time_json(moment: datetime | None) -> str | None:
    return None if moment is None else utc_text(moment)


def _time(text: str | None) -> datetime | None:
    return None if text is None else parse_utc(text, "window")
