"""A git command started at once and answered later, while Python works on the other core."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO


class BackgroundGit:
    """One `git` in `folder`, started as it is made; a context manager that stops and reaps
    it and removes its files whatever happens (`close`).

    Its output goes to a temporary file, not a pipe: a pipe nobody reads yet would stall git
    once full, and the point is that git works while the caller does. `stdin`, if given, is
    handed over the same way. OSError if git cannot be started (no git, no such folder).
    """

    def __init__(self, folder: Path, *args: str, stdin: bytes | None = None) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = tempfile.TemporaryFile(prefix="cascade-git-")  # noqa: SIM115
        self._errors: IO[bytes] | None = tempfile.TemporaryFile(prefix="cascade-git-")  # noqa: SIM115
        try:
            with tempfile.TemporaryFile(prefix="cascade-git-") as requests:
                if stdin is not None:
                    requests.write(stdin)
                    requests.seek(0)
                self._process = subprocess.Popen(
                    ["git", *args],
                    cwd=folder,
                    stdin=requests if stdin is not None else subprocess.DEVNULL,
                    stdout=self._output,
                    stderr=self._errors,
                )
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> BackgroundGit:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def finished(self, within: float = 0.0) -> bool:
        """Whether git has ended, waiting up to `within` seconds for it."""
        try:
            self._running().wait(within)
        except subprocess.TimeoutExpired:
            return False
        return True

    def wait(self) -> int:
        """Wait for git; its exit status."""
        return self._running().wait()

    def output(self) -> bytes:
        """Everything git wrote to its standard output (waiting for it to end)."""
        return self._read(self._output)

    def errors(self) -> str:
        """What git wrote to its standard error (waiting for it to end)."""
        return self._read(self._errors).decode(errors="replace").strip()

    def close(self) -> None:
        """Stop git if it still runs, reap it and remove its files. Safe to call again."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
        for spool in (self._output, self._errors):
            if spool is not None:
                spool.close()
        self._output = self._errors = None

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("git was asked for after it was closed")
        return self._process

    def _read(self, spool: IO[bytes] | None) -> bytes:
        self.wait()
        assert spool is not None
        spool.seek(0)
        return spool.read()
