"""How values look on pages: local times, sizes, URLs. Jinja2 filters and globals."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(moment: datetime, zone: str = "Europe/London") -> str:
    """'Thursday 20 April 2017, 21:30 BST' in the site's zone, whatever offset was written."""
    local = moment.astimezone(_zone(zone))
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname()}"


def short_time(moment: datetime, zone: str = "Europe/London") -> str:
    local = moment.astimezone(_zone(zone))
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


KNOWN_TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "text/plain": "Text",
    "text/csv": "CSV",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
}


def file_kind(media_type: str) -> str:
    return KNOWN_TYPES.get(media_type, media_type)
