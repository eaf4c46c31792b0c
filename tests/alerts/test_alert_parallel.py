"""parallel.map_forked: order kept, and the collector as a build leaves it to its workers."""

from __future__ import annotations

import gc

from alerts.parallel import map_forked


def _collecting(_: int) -> bool:
    return gc.isenabled()


def test_results_come_back_in_order() -> None:
    items = list(range(1000))
    assert map_forked(lambda item: item * 2, items, workers=2, min_items=1) == [
        i * 2 for i in items
    ]


def test_workers_collect_while_the_parent_has_paused_its_collector() -> None:
    """publish.py pauses the collector for a build; forked workers render thousands of pages
    in a cold build and must collect their own garbage; the parent's objects are frozen
    around the fork and thawed after, so a long-running server still collects them."""
    was = gc.isenabled()
    gc.disable()
    try:
        assert map_forked(_collecting, list(range(100)), workers=2, min_items=1) == [True] * 100
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
    finally:
        if was:
            gc.enable()
