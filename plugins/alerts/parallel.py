"""Run a function over many items on every core, for cold builds.

Work is handed to forked children by index: the function and the items are inherited, not
pickled, so closures over the build's state work. Only results travel back. Small batches
run in-process, where starting workers would cost more than it saves.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Fewer items than this are not worth a fork.
MIN_PARALLEL_ITEMS = 400

_work: tuple[Callable[[Any], Any], Sequence[Any], Callable[[], None] | None] | None = None


def workers_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def map_forked(
    function: Callable[[T], R],
    items: Sequence[T],
    workers: int | None = None,
    min_items: int = MIN_PARALLEL_ITEMS,
    after_batch: Callable[[], None] | None = None,
) -> list[R]:
    """[function(item) for item in items], in order, spread over forked workers.

    `after_batch` runs in a worker after each batch it finishes (to save what it cached).
    """
    workers = workers or workers_available()
    if (
        workers < 2
        or len(items) < min_items
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return [function(item) for item in items]
    chunk = max(1, len(items) // (workers * 8))
    ranges = [(start, min(start + chunk, len(items))) for start in range(0, len(items), chunk)]
    context = multiprocessing.get_context("fork")
    # What the parent made so far is left out of the workers' collections, so that they
    # do not touch (and so copy) every page of memory they share with it.
    gc.freeze()
    try:
        with context.Pool(
            workers, initializer=_adopt, initargs=(function, items, after_batch)
        ) as pool:
            parts = pool.map(_run_range, ranges)
    finally:
        gc.unfreeze()
    return [result for part in parts for result in part]


def _adopt(
    function: Callable[[Any], Any],
    items: Sequence[Any],
    after_batch: Callable[[], None] | None,
) -> None:
    # Runs in each forked worker: the work list lives in the worker's own copy of memory.
    # The parent may have paused the collector for its own short life; a worker renders
    # many pages (templates leave reference cycles) and collects as usual.
    gc.enable()
    global _work
    _work = (function, items, after_batch)


def _run_range(bounds: tuple[int, int]) -> list[Any]:
    assert _work is not None
    function, items, after_batch = _work
    results = [function(items[index]) for index in range(*bounds)]
    if after_batch is not None:
        after_batch()
    return results
