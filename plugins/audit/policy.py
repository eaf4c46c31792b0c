"""What the audit holds a repository to: where its history starts and where its files live."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Final

from .errors import AuditError

FINGERPRINT: Final = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
_FOLDER: Final = re.compile(r"[^/\\\0\n]+(/[^/\\\0\n]+)*")
ALLOWED_SIGNERS: Final = "allowed_signers"
REVOKED_KEYS: Final = "revoked_keys"


@dataclass(frozen=True)
class AuditPolicy:
    """The settings of an audit; every path is relative to the top of the repository.

    `since` names the first commit held to the rules (default: the root commit); its
    ancestors are prehistory. `trusted_signers` pins the `SHA256:` fingerprints that may sign
    a root commit, which has no parent whose signers file could authorise it.
    """

    since: str | None = None
    trusted_signers: tuple[str, ...] = ()
    content_prefix: str = "content"
    signers_dir: str = ".signers"

    def __post_init__(self) -> None:
        for fingerprint in self.trusted_signers:
            if not FINGERPRINT.fullmatch(fingerprint):
                raise AuditError(
                    f"trusted signer {fingerprint!r} is not a key fingerprint "
                    "(SHA256: and 43 base64 characters, as `ssh-keygen -lf` prints)"
                )
        if self.content_prefix and not _folder(self.content_prefix):
            raise AuditError(
                f"content prefix {self.content_prefix!r} must be a relative folder such as "
                "'content' (or '' for the top of the repository)"
            )
        if not _folder(self.signers_dir):
            raise AuditError(
                f"signers folder {self.signers_dir!r} must be a relative folder such as '.signers'"
            )
        if self.since is not None and not self.since.strip():
            raise AuditError("since must name a commit, or be left out to start at the root")

    @property
    def alerts_dir(self) -> str:
        return f"{self.content_prefix}/alerts" if self.content_prefix else "alerts"

    @property
    def allowed_signers_path(self) -> str:
        return f"{self.signers_dir}/{ALLOWED_SIGNERS}"

    @property
    def revoked_keys_path(self) -> str:
        return f"{self.signers_dir}/{REVOKED_KEYS}"

    def is_alert_path(self, path: str) -> bool:
        """Whether `path` is an alert file: `<content>/alerts/YYYY/MM/<name>.md`, or
        `<content>/alerts/YYYY/<name>.md` (the layout before month folders)."""
        return self._alert_match(path) is not None

    @cached_property
    def _alert_match(self) -> Callable[[str], re.Match[str] | None]:
        # A first audit asks about every path of every commit, several times.
        return _alert_pattern(self.alerts_dir).fullmatch

    def is_signers_path(self, path: str) -> bool:
        return path.startswith(self.signers_dir + "/")


def alert_id(path: str) -> str:
    """The id of the alert in `path`: its file name without `.md`."""
    return path.rpartition("/")[2].removesuffix(".md")


@lru_cache(maxsize=8)
def _alert_pattern(alerts_dir: str) -> re.Pattern[str]:
    return re.compile(re.escape(alerts_dir) + r"/[0-9]{4}/(?:[0-9]{2}/)?[^/]+\.md", re.DOTALL)


def _folder(path: str) -> bool:
    parts = path.split("/")
    return _FOLDER.fullmatch(path) is not None and not {".", ".."} & set(parts)
