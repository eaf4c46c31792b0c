"""Errors raised by the audit: bad signatures, bad policy files, unreadable repositories."""

from __future__ import annotations

from alerts.errors import CascadeError


class AuditError(CascadeError):
    """Base of every audit failure publish.py reports without a traceback."""


class KeyFormatError(AuditError):
    """An SSH public key could not be decoded, or is of a kind we do not accept."""


class SignatureFormatError(AuditError):
    """A signature block could not be decoded: this is never a mere 'bad signature'."""


class PolicyFileError(AuditError):
    """One line of an allowed-signers or revoked-keys file is wrong.

    Printed as `path:line: what is wrong (what is allowed)` so an editor can jump to it.
    """

    def __init__(self, path: str, line: int, problem: str, allowed: str) -> None:
        super().__init__(f"{path}:{line}: {problem} ({allowed})")
        self.path = path
        self.line = line
        self.problem = problem
        self.allowed = allowed


class RepositoryError(AuditError):
    """Git could not answer: not a repository, an unknown revision, a missing object."""
