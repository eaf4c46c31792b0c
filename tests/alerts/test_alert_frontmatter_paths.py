"""The libyaml fast path and the strict pure-Python path read front-matter identically."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts import frontmatter
from bench.synth import alerts as synthetic_alerts

ROOT = Path(__file__).resolve().parents[2]


def corpus() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "content/alerts").rglob("*.md"))]
    texts += [a.text for a in synthetic_alerts(200, seed=7)]
    return [t.split("---\n", 2)[1] for t in texts]


def test_libyaml_is_used() -> None:
    assert frontmatter._FAST, "PyYAML was built without libyaml: builds will be slow"


@pytest.mark.parametrize("text", corpus())
def test_fast_and_strict_paths_agree(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert frontmatter._plainly_safe(text)
    fast = frontmatter.load_strict_mapping(text, first_line=2)
    monkeypatch.setattr(frontmatter, "_FAST", False)
    strict = frontmatter.load_strict_mapping(text, first_line=2)
    assert fast == strict
