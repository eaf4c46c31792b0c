"""A fingerprint of the code and templates that turn content into output.

When it changes, every cached parse and every written page is stale.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

_PLUGINS = Path(__file__).resolve().parent.parent


def files_fingerprint(roots: Iterable[Path], patterns: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(p for pattern in patterns for p in root.rglob(pattern) if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """Our plugins' source and the versions of the libraries that shape parsed output.

    Read once per process: the build stamp and the build both ask, and code already
    imported does not change under a running process even if its files do."""
    digest = hashlib.sha256(files_fingerprint([_PLUGINS], ("*.py",)).encode())
    for package in ("markdown", "nh3", "pyyaml"):
        digest.update(f"{package}={version(package)}".encode())
    return digest.hexdigest()
