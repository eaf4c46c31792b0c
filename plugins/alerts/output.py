"""The one place that writes output files: staged beside the site, published all at once.

A build renders into a staging folder next to the output folder. Nothing in the output
folder changes until `publish()`:
- a full build stages the whole site and swaps the two folders (atomically where the
  kernel offers renameat2(RENAME_EXCHANGE), else with two renames);
- an incremental build stages only the files whose inputs changed, then moves them in
  under a journal; if the process dies during those few renames, the next build finishes
  them before doing anything else, so the site never stays half-published.
A build that fails or is killed before `publish()` leaves the previous site untouched.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError
from .parallel import map_forked

_MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class WriteStats:
    rendered: int
    written: int
    kept: int
    deleted: int
    full: bool


class SiteOutput:
    def __init__(
        self,
        output: Path,
        manifest: Path,
        build_key: str,
        full: bool = False,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        self.after_batch = after_batch
        self.output = output.absolute()
        self.manifest_path = manifest
        self.build_key = build_key
        self.staging = self.output.parent / f".{self.output.name}.staging"
        self.journal = self.output.parent / f".{self.output.name}.journal"
        recover(self.output)
        previous = self._load_manifest()
        self.full = full or previous is None or not self.output.is_dir()
        self.previous: dict[str, tuple[str, str]] = {} if self.full else (previous or {})
        self.planned: dict[str, tuple[str, str]] = {}
        self.staged: list[str] = []
        self._pending: list[tuple[str, Callable[[], bytes]]] = []
        self.rendered = 0
        self.kept = 0
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)
        self._staging_root = str(self.staging.resolve())

    # -- writing ---------------------------------------------------------------------------

    def unchanged(self, rel: str, key: str) -> bool:
        """True, with `rel` kept as published, if it was last made from the same `key`.

        The manifest vouches for files it lists (it is only trusted while the output folder
        is the one it describes); `--full` rebuilds everything regardless. Costs one lookup:
        a build asks this of every output, and most are unchanged.
        """
        before = self.previous.get(rel)
        if before is None or before[0] != key:
            return False
        if rel in self.planned:
            raise BuildError(f"two outputs would both be written to {rel}")
        self.planned[rel] = before
        self.kept += 1
        return True

    def emit(self, rel: str, key: str, render: Callable[[], bytes]) -> None:
        """Make `rel` hold what `render()` returns; skip the render if `key` is unchanged.

        Renders are queued and run together in `publish()`, on every core when there are
        many (a cold build) and in-process when there are few (an incremental one).
        """
        if self.unchanged(rel, key):
            return
        if rel in self.planned:
            raise BuildError(f"two outputs would both be written to {rel}")
        # Only a path about to be written needs checking: a kept one was checked when it
        # was written.
        self._checked(rel)
        self.planned[rel] = (key, "")
        self._pending.append((rel, render))

    def _render_pending(self) -> None:
        pending, self._pending = self._pending, []
        results = map_forked(self._render_one, pending, after_batch=self.after_batch)
        for (rel, _), result in zip(pending, results, strict=True):
            self._record(rel, result)

    def _record(self, rel: str, result: tuple[str, bool]) -> None:
        digest, written = result
        self.planned[rel] = (self.planned[rel][0], digest)
        self.rendered += 1
        if written:
            self.staged.append(rel)
        else:
            self.kept += 1

    def _render_one(self, job: tuple[str, Callable[[], bytes]]) -> tuple[str, bool]:
        """Render one output into staging unless it comes out as already published."""
        rel, render = job
        data = render()
        digest = hashlib.sha256(data).hexdigest()
        before = self.previous.get(rel)
        if before is not None and before[1] == digest and (self.output / rel).is_file():
            return digest, False
        target = self.staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return digest, True

    def copy(self, rel: str, source: Path) -> None:
        """Publish a file as it is (attachments, theme assets), keyed by its content."""
        data = source.read_bytes()
        self.emit(rel, hashlib.sha256(data).hexdigest(), lambda: data)

    def _checked(self, rel: str) -> Path:
        if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel:
            raise BuildError(f"refusing to write {rel!r}: not a relative path")
        # The staging folder is made empty by us and only ever receives regular files, so
        # normalising the path resolves it exactly, without a system call per component;
        # commonpath compares whole components ("/out-evil" is not inside "/out").
        target = os.path.normpath(os.path.join(self._staging_root, rel))
        if target == self._staging_root or (
            os.path.commonpath((self._staging_root, target)) != self._staging_root
        ):
            raise BuildError(f"refusing to write {rel!r}: it is outside the output folder")
        return Path(target)

    # -- publishing ------------------------------------------------------------------------

    def publish(self) -> WriteStats:
        self._render_pending()
        deleted = sorted(set(self.previous) - set(self.planned))
        if self.full:
            _swap_in(self.staging, self.output)
        else:
            self.journal.write_text(
                json.dumps(
                    {"staging": str(self.staging), "moves": self.staged, "deletes": deleted}
                ),
                encoding="utf-8",
            )
            recover(self.output)
        self._save_manifest()
        return WriteStats(
            rendered=self.rendered,
            written=len(self.staged) if not self.full else len(self.planned),
            kept=self.kept if not self.full else 0,
            deleted=len(deleted),
            full=self.full,
        )

    def abandon(self) -> None:
        """Drop everything staged; the published site is as it was."""
        shutil.rmtree(self.staging, ignore_errors=True)

    # -- manifest: what each published file was made from ----------------------------------

    def _load_manifest(self) -> dict[str, tuple[str, str]] | None:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (
            not isinstance(data, dict)
            or data.get("format") != _MANIFEST_FORMAT
            or data.get("build_key") != self.build_key
            or data.get("output") != str(self.output)
            or data.get("inode") != _inode(self.output)
        ):
            return None
        return {rel: (key, digest) for rel, (key, digest) in data["files"].items()}

    def _save_manifest(self) -> None:
        self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "format": _MANIFEST_FORMAT,
                    "build_key": self.build_key,
                    "output": str(self.output),
                    "inode": _inode(self.output),
                    "files": dict(sorted(self.planned.items())),
                },
                separators=(",", ":"),
            ),
            encoding="utf-8",
        )
        os.replace(tmp, self.manifest_path)


def recover(output: Path) -> None:
    """Finish an incremental publish that a killed process left half done."""
    journal = output.parent / f".{output.name}.journal"
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except ValueError:
        # A torn journal means the process died while writing it: nothing was moved yet.
        journal.unlink()
        return
    staging = Path(plan["staging"])
    for rel in plan["moves"]:
        source = staging / rel
        if source.exists():
            (output / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, output / rel)
    for rel in plan["deletes"]:
        (output / rel).unlink(missing_ok=True)
        _prune_empty_parents(output, output / rel)
    journal.unlink()
    shutil.rmtree(staging, ignore_errors=True)


def _prune_empty_parents(root: Path, path: Path) -> None:
    parent = path.parent
    while parent != root and parent.is_relative_to(root):
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _swap_in(staging: Path, output: Path) -> None:
    """Put the staged folder where the output folder is, and remove the old one."""
    if output.exists() and _exchange(staging, output):
        shutil.rmtree(staging)
        return
    old = output.parent / f".{output.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if output.exists():
        os.rename(output, old)
    os.rename(staging, output)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.EXDEV, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), "cannot swap the new site into place", str(b))
