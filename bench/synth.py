"""Generate a realistic synthetic alert archive (deterministic for a given seed).

Levels 10/30/60 red/amber/green; 1 to 5 sectors each and 10% for all sectors; incident
threads; corrections; bodies of 0.5 to 4 KB; a few PDF attachments.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
SECTORS = [
    "banking-finance", "retail", "hospitality", "night-time-economy", "entertainment-events",
    "sport", "transport", "aviation", "maritime", "logistics", "energy-utilities", "telecoms",
    "health", "education", "government", "property-facilities", "construction",
    "security-industry", "legal-professional", "insurance", "media", "faith", "charities",
    "tourism-culture", "manufacturing",
]  # fmt: skip
SOURCES = [
    "met-police",
    "city-of-london-police",
    "btp",
    "london-protect",
    "ncpp",
    "nfib",
    "falcon",
    "tfl",
]
TOPICS = ["fraud", "cyber", "terrorism", "transport", "protest", "crime", "weather", "public-order"]
PLACES = [
    "Oxford Street",
    "Bank junction",
    "King's Cross",
    "Canary Wharf",
    "Southwark",
    "Camden",
    "Holborn",
    "Stratford",
]
EVENTS = [
    "suspicious package",
    "road closure",
    "power failure",
    "protest march",
    "phishing campaign",
    "courier fraud",
    "cable theft",
    "crowd surge",
]
WORDS = [
    "officers",
    "businesses",
    "staff",
    "cordon",
    "advice",
    "incident",
    "area",
    "premises",
    "customers",
    "police",
    "security",
    "report",
    "suspicious",
    "activity",
    "vehicles",
    "evacuate",
    "remain",
    "alert",
    "update",
    "public",
    "transport",
    "disruption",
    "expected",
    "review",
    "plans",
    "contact",
    "information",
    "further",
    "message",
]
ATTACHMENTS = ["bulletin.pdf", "checklist.pdf", "poster.pdf"]


@dataclass(frozen=True)
class SynthAlert:
    id: str
    path: str  # relative to the content folder
    text: str
    issued: datetime


def _pdf(title: str) -> bytes:
    body = f"BT /F1 18 Tf 72 720 Td ({title}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(body)).encode() + b" >>\nstream\n" + body + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def write_registry(content: Path) -> None:
    content.mkdir(parents=True, exist_ok=True)
    (content / "sectors.yml").write_text(
        "".join(
            f'- slug: "{s}"\n  name: "{s.replace("-", " ").title()}"\n  description: "The {s} sector."\n'
            for s in SECTORS
        ),
        encoding="utf-8",
    )
    (content / "sources.yml").write_text(
        "".join(f'- slug: "{s}"\n  name: "{s.upper()}"\n' for s in SOURCES), encoding="utf-8"
    )
    attachments = content / "attachments"
    attachments.mkdir(exist_ok=True)
    for name in ATTACHMENTS:
        (attachments / name).write_bytes(_pdf(name))


def _body(rng: random.Random, size: int) -> str:
    paragraphs = []
    total = 0
    while total < size:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 70)))
        paragraph = words[0].upper() + words[1:] + "."
        if rng.random() < 0.15:
            paragraph = (
                "## " + rng.choice(["What to do", "Background", "Advice"]) + "\n\n" + paragraph
            )
        if rng.random() < 0.1:
            paragraph += "\n\n- " + "\n- ".join(rng.choice(WORDS) for _ in range(3))
        paragraphs.append(paragraph)
        total += len(paragraph)
    return "\n\n".join(paragraphs)


def alerts(count: int, seed: int = 1, end: datetime | None = None) -> Iterator[SynthAlert]:
    """`count` alerts, oldest first, ending shortly before `end`."""
    rng = random.Random(seed)
    end = end or datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    # About three hours apart on average: 10,000 alerts span roughly three and a half years.
    # The gaps are random (30 to 330 minutes, deviation about 87), so their sum strays by
    # about 87 * sqrt(count) minutes: start four such deviations early, so that even at
    # 100,000 alerts the last one is not issued after `end`.
    moment = end - timedelta(hours=3 * count, minutes=round(4 * 87 * count**0.5))
    recent: list[tuple[str, datetime]] = []
    for index in range(count):
        moment = min(moment + timedelta(minutes=rng.randint(30, 330)), end)
        local = moment.astimezone(LONDON).replace(microsecond=0)
        level = rng.choices(["red", "amber", "green"], weights=[10, 30, 60])[0]
        place, event = rng.choice(PLACES), rng.choice(EVENTS)
        title = f"{event.capitalize()} near {place} ({index})"
        slug = f"{event.replace(' ', '-')}-{place.lower().replace(' ', '-').replace(chr(39), '')}-{index}"
        alert_id = f"{local.date().isoformat()}-{slug}"
        sectors = ["all"] if rng.random() < 0.1 else rng.sample(SECTORS, rng.randint(1, 5))
        lines = [
            "---",
            f'title: "{title}"',
            f'level: "{level}"',
            f'issued: "{local.isoformat()}"',
            "sectors: [" + ", ".join(f'"{s}"' for s in sectors) + "]",
            f'source: "{rng.choice(SOURCES)}"',
            "topics: [" + ", ".join(f'"{t}"' for t in rng.sample(TOPICS, rng.randint(1, 2))) + "]",
        ]
        if recent and rng.random() < 0.1:
            parent, parent_time = rng.choice(recent[-20:])
            if parent_time < local:
                lines.append(f'updates: "{parent}"')
        if rng.random() < 0.05:
            at = local + timedelta(minutes=rng.randint(5, 120))
            lines.append(
                f'corrections:\n  - at: "{at.isoformat()}"\n    note: "Corrected a detail."'
            )
        if rng.random() < 0.02:
            lines.append(f'attachments: ["{rng.choice(ATTACHMENTS)}"]')
        if level != "green" and rng.random() < 0.5:
            lines.append(f'expires: "{(local + timedelta(hours=rng.randint(2, 48))).isoformat()}"')
        lines.append("---")
        text = "\n".join(lines) + "\n\n" + _body(rng, rng.randint(500, 4000)) + "\n"
        recent.append((alert_id, local))
        yield SynthAlert(alert_id, f"alerts/{local:%Y/%m}/{alert_id}.md", text, local)


def write_archive(content: Path, count: int, seed: int = 1) -> list[SynthAlert]:
    write_registry(content)
    written = []
    for alert in alerts(count, seed):
        path = content / alert.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(alert.text, encoding="utf-8")
        written.append(alert)
    return written
