"""Run one call in a forked child while this process goes on with other work.

A build that adds one alert spends most of its time in two independent steps, loading the
content and auditing the history, each on one core: at 100,000 alerts each takes tenths of
a second. The child inherits everything the call needs with the parent's memory; only its
result travels back, pickled through a temporary file (a pipe would hold the child up until
the parent reads).

The child is only ever a way to save time. Without a second core, without fork, or while
another thread runs (the development server's: forking could leave the child waiting forever
on a lock that thread held), the call runs here when its result is asked for. If the child
fails in any way (the call raised, the child died, the result would not pickle), `result()`
runs the call again here, so that errors are raised, worded and handled exactly as they
would have been without it. The call must therefore be safe to run twice: the audit's writes
are of caches, each replaced whole.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import tempfile
import threading
from collections.abc import Callable
from typing import IO, Generic, NoReturn, TypeVar

from .parallel import workers_available

R = TypeVar("R")


class ForkedCall(Generic[R]):
    """`function()`, started in a forked child at once; `result()` waits for it."""

    def __init__(self, function: Callable[[], R]) -> None:
        self._function = function
        self._pid = 0  # the child's, while it is to be waited for
        self._spool: IO[bytes] | None = None
        if workers_available() < 2 or "fork" not in multiprocessing.get_all_start_methods():
            return  # nothing would run alongside: the call runs when asked for
        if threading.active_count() > 1:
            # Another thread (the development server's) may hold a lock at the moment of
            # the fork, which the child would then wait for forever: run it here instead.
            return
        spool = tempfile.TemporaryFile()  # noqa: SIM115  # closed by result() or close()
        try:
            pid = os.fork()
        except OSError:
            spool.close()
            return
        if pid == 0:
            _run_child(function, spool)
        self._pid, self._spool = pid, spool

    @property
    def forked(self) -> bool:
        """Whether a child was started (and not yet waited for)."""
        return self._pid != 0

    def result(self) -> R:
        """What the call returned, from the child if it could tell, else by calling it here."""
        made = self._collect()
        if made is not None:
            return made[0]
        return self._function()

    def close(self) -> None:
        """Wait for the child without using its result: the build stopped before asking.
        Waited for rather than killed, so that it never stops half way through a write."""
        self._collect()

    def __enter__(self) -> ForkedCall[R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _collect(self) -> tuple[R] | None:
        pid, spool = self._pid, self._spool
        self._pid, self._spool = 0, None
        if not pid or spool is None:
            return None
        with spool:
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:  # reaped by someone else: its result cannot be told
                return None
            if os.waitstatus_to_exitcode(status) != 0:
                return None
            spool.seek(0)
            try:
                return (pickle.load(spool),)
            except Exception:  # a result that would not load: make it here
                return None


def _run_child(function: Callable[[], object], spool: IO[bytes]) -> NoReturn:
    # In the child: whatever happens, leave through os._exit, so that nothing the parent
    # set up (atexit handlers, buffered output, open databases) is run or flushed twice.
    code = 1
    with contextlib.suppress(BaseException):
        pickle.dump(function(), spool, protocol=pickle.HIGHEST_PROTOCOL)
        spool.flush()
        code = 0
    os._exit(code)
