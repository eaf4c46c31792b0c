"""An independent reading of the demo content (plain PyYAML, no Cascade code), so the
end-to-end tests compare the site against the files rather than against our own model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Raw:
    id: str
    meta: dict[str, Any]

    @property
    def issued(self) -> datetime:
        return datetime.fromisoformat(self.meta["issued"])

    @property
    def level(self) -> str:
        return str(self.meta["level"])

    @property
    def sectors(self) -> list[str]:
        return list(self.meta["sectors"])

    @property
    def withdrawn(self) -> bool:
        return self.meta.get("status") == "withdrawn"

    def expired(self, now: datetime) -> bool:
        expires = self.meta.get("expires")
        return bool(expires) and datetime.fromisoformat(expires) <= now

    def current(self, now: datetime, days: int = 7) -> bool:
        return (
            self.level in ("red", "amber")
            and not self.withdrawn
            and not self.expired(now)
            and (now - self.issued).total_seconds() < days * 86400
        )


def read_all(content: Path) -> list[Raw]:
    found = []
    for path in sorted((content / "alerts").glob("**/*.md")):
        text = path.read_text(encoding="utf-8")
        front = text.split("---\n", 2)[1]
        found.append(Raw(path.stem, yaml.safe_load(front)))
    return found


def newest_first(alerts: list[Raw]) -> list[Raw]:
    return sorted(alerts, key=lambda a: (-a.issued.timestamp(), a.id))


def sector_slugs(content: Path) -> list[str]:
    return [row["slug"] for row in yaml.safe_load((content / "sectors.yml").read_text())]
