"""Choose which alerts a feed still carries: a minimum count plus everything recent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from alerts.model import Alert


def select_entries(
    members_newest_first: Sequence[Alert],
    now: datetime,
    min_items: int,
    retention_days: int,
) -> list[Alert]:
    """The first `min_items` alerts, plus every alert issued or corrected on or after the cut-off.

    The cut-off is `now - retention_days`, inclusive: "within the last 45 days" keeps an alert
    issued exactly 45 days ago. Withdrawn and corrected alerts are kept like any other, so a
    reader sees the withdrawal. The input order (newest first) is preserved.
    """
    cutoff = retention_cutoff(now, min_items, retention_days)
    return [
        alert
        for index, alert in enumerate(members_newest_first)
        if index < min_items or alert.issued >= cutoff or alert.updated >= cutoff
    ]


def retention_cutoff(now: datetime, min_items: int, retention_days: int) -> datetime:
    """The oldest instant a feed keeps every alert from; refuses arguments that make no sense."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if min_items < 0 or retention_days < 0:
        raise ValueError("min_items and retention_days must not be negative")
    return now - timedelta(days=retention_days)
