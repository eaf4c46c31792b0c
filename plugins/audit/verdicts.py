"""Signature verdicts per commit, cached with the moment the publisher first saw each commit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeAlias

from .errors import AuditError
from .storage import parse_utc, read_json, utc_text, write_json

FORMAT_VERSION: Final = 1
CACHE_FILE: Final = "audit-verdicts.json"

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


def load_verdicts(cache_dir: Path | None) -> CachedVerdicts:
    """The verdicts cached in `cache_dir`, or none; AuditError naming a malformed file."""
    if cache_dir is None:
        return CachedVerdicts({}, {})
    path = cache_dir / CACHE_FILE
    data = read_json(path)
    if data is None:
        return CachedVerdicts({}, {})
    try:
        if data["version"] != FORMAT_VERSION:
            raise ValueError(f"unknown version {data['version']!r}")
        digests = [str(digest) for digest in data["digests"]]
        verdicts = [_verdict(item) for item in data["verdicts"]]
        times = [parse_utc(text, "first_seen") for text in data["times"]]
        found: dict[str, tuple[str, Verdict]] = {}
        first_seen: dict[str, datetime] = {}
        for oid, (digest, verdict, time) in data["commits"].items():
            if verdict is not None:
                found[oid] = (digests[digest], verdicts[verdict])
            if time is not None:
                first_seen[oid] = times[time]
        return CachedVerdicts(found, first_seen)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        # First-seen times cannot be rebuilt for unpublished commits, so a broken file is
        # reported, never silently replaced.
        raise AuditError(f"{path}: malformed verdict cache ({error!r})") from None


def save_verdicts(cache_dir: Path | None, cached: CachedVerdicts) -> None:
    if cache_dir is None:
        return
    # Most commits share their digest, verdict and first-seen time with many others, so each
    # distinct value is written once and commits refer to it by index: a tenth of the size,
    # and loading makes a handful of objects rather than one per commit.
    digests: dict[str, int] = {}
    verdicts: dict[Verdict, int] = {}
    # Verdicts read from the cache are shared objects, so most are found by identity, which
    # is much cheaper than hashing a verdict's fields ten thousand times.
    by_identity: dict[int, int] = {}
    times: dict[datetime, int] = {}
    commits: dict[str, list[int | None]] = {}
    for oid in dict.fromkeys([*cached.verdicts, *cached.first_seen]):
        entry: list[int | None] = [None, None, None]
        if oid in cached.verdicts:
            digest, verdict = cached.verdicts[oid]
            entry[0] = digests.setdefault(digest, len(digests))
            index = by_identity.get(id(verdict))
            if index is None:
                index = by_identity[id(verdict)] = verdicts.setdefault(verdict, len(verdicts))
            entry[1] = index
        if oid in cached.first_seen:
            entry[2] = times.setdefault(cached.first_seen[oid], len(times))
        commits[oid] = entry
    data = {
        "version": FORMAT_VERSION,
        "digests": list(digests),
        "verdicts": [_verdict_json(verdict) for verdict in verdicts],
        "times": [utc_text(when) for when in times],
        "commits": commits,
    }
    write_json(cache_dir / CACHE_FILE, data, indent=None)


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
