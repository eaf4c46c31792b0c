"""The ledger: every head the publisher published, and every rewrite it accepted, in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from .errors import AuditError
from .gitstream import OBJECT_NAME
from .storage import parse_utc, read_json, utc_text, write_json

FORMAT_VERSION: Final = 1


@dataclass(frozen=True)
class LedgerEntry:
    """One publication: the head that went out, and when the publisher's clock said it did."""

    head: str
    published_at: datetime

    def __post_init__(self) -> None:
        _check_commit(self.head, "head")
        _check_aware(self.published_at, "published_at")


@dataclass(frozen=True)
class RewriteAcceptance:
    """A rewrite of published history, accepted by a person who said why.

    `waived` lists exactly the published heads that were not in the history of `new_head`
    when it was accepted; a later rewrite needs an acceptance of its own.
    """

    accepted_at: datetime
    reason: str
    new_head: str
    waived: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_aware(self.accepted_at, "accepted_at")
        if not self.reason.strip():
            raise AuditError("a rewrite can only be accepted with a reason")
        _check_commit(self.new_head, "new_head")
        if not self.waived:
            raise AuditError("a rewrite acceptance must waive at least one published head")
        for head in self.waived:
            _check_commit(head, "waived head")


@dataclass(frozen=True)
class Ledger:
    """What has been published, oldest first. Immutable: each change returns a new ledger."""

    entries: tuple[LedgerEntry, ...] = ()
    acceptances: tuple[RewriteAcceptance, ...] = ()

    @classmethod
    def load(cls, path: Path) -> Ledger:
        """The ledger in `path`; an empty one if there is no file; AuditError if malformed."""
        data = read_json(path)
        if data is None:
            return cls()
        try:
            return cls.from_json(data)
        except (AuditError, ValueError, TypeError, KeyError) as error:
            problem = f"missing field {error}" if isinstance(error, KeyError) else str(error)
            raise AuditError(f"{path}: not a valid ledger ({problem})") from None

    @classmethod
    def from_json(cls, data: Any) -> Ledger:
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError(f'expected an object with "version": {FORMAT_VERSION}')
        entries = _list(data, "entries")
        acceptances = _list(data, "acceptances")
        return cls(
            entries=tuple(
                LedgerEntry(
                    head=_text(item, "head"),
                    published_at=parse_utc(item["published_at"], "published_at"),
                )
                for item in entries
            ),
            acceptances=tuple(
                RewriteAcceptance(
                    accepted_at=parse_utc(item["accepted_at"], "accepted_at"),
                    reason=_text(item, "reason"),
                    new_head=_text(item, "new_head"),
                    waived=tuple(_texts(item, "waived")),
                )
                for item in acceptances
            ),
        )

    @property
    def last_head(self) -> str | None:
        return self.entries[-1].head if self.entries else None

    @property
    def waived(self) -> frozenset[str]:
        """Every published head a rewrite acceptance has excused."""
        return frozenset(head for acceptance in self.acceptances for head in acceptance.waived)

    @property
    def baseline(self) -> str | None:
        """The head the next publication must only add to.

        The last published head, unless an accepted rewrite replaced it: then the head that
        the acceptance adopted in its place.
        """
        last = self.last_head
        if last is None or last not in self.waived:
            return last
        return next(a.new_head for a in reversed(self.acceptances) if last in a.waived)

    def with_entry(self, head: str, at: datetime) -> Ledger:
        return Ledger((*self.entries, LedgerEntry(head, at)), self.acceptances)

    def with_acceptance(self, acceptance: RewriteAcceptance) -> Ledger:
        return Ledger(self.entries, (*self.acceptances, acceptance))

    def save(self, path: Path) -> None:
        write_json(path, self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "entries": [
                {"head": entry.head, "published_at": utc_text(entry.published_at)}
                for entry in self.entries
            ],
            "acceptances": [
                {
                    "accepted_at": utc_text(acceptance.accepted_at),
                    "reason": acceptance.reason,
                    "new_head": acceptance.new_head,
                    "waived": list(acceptance.waived),
                }
                for acceptance in self.acceptances
            ],
        }


def _check_commit(value: object, what: str) -> None:
    if not isinstance(value, str) or not OBJECT_NAME.fullmatch(value):
        raise AuditError(f"{what} {value!r} is not a full commit id")


def _check_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise AuditError(f"{what} must be a timezone-aware time")


def _list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(f"{key} must be a list of objects")
    return value


def _text(item: dict[str, Any], key: str) -> str:
    value = item[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    return value


def _texts(item: dict[str, Any], key: str) -> list[str]:
    value = item[key]
    if not isinstance(value, list) or not all(isinstance(head, str) for head in value):
        raise ValueError(f"{key} must be a list of commit ids")
    return value
