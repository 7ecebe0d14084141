"""The examples a service embedding ``marketscout.domain`` copies from (the README's "Embedding
the engine" and docs/architecture.md's "Embedding the domain") run as written, and the names
they and the public functions need are exported."""

from __future__ import annotations

import re
from pathlib import Path

from marketscout import domain
from marketscout.domain import DomainError, TrendStatus

ROOT = Path(__file__).resolve().parents[2]


def _python_blocks(document: Path, heading: str) -> list[str]:
    """The ```python blocks of the section under ``heading`` (up to the next heading of its level)."""
    text = document.read_text(encoding="utf-8")
    assert f"\n{heading}\n" in text, f"{document.name} has no section {heading!r}"
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    end = text.find(f"\n{level} ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def _run(code: str) -> list[tuple[object, ...]]:
    """What the example prints, each call's arguments."""
    printed: list[tuple[object, ...]] = []
    exec(code, {"print": lambda *args: printed.append(args)})  # noqa: S102 - the documented example
    return printed


def test_the_readmes_embedding_example_runs() -> None:
    [example] = _python_blocks(ROOT / "README.md", "## Embedding the engine")
    [(score, status, reason)] = _run(example)
    assert isinstance(score, float) and 0 <= score <= 100
    assert status in set(TrendStatus)
    assert isinstance(reason, str) and reason


def test_the_architectures_embedding_example_runs_and_says_what_it_prints() -> None:
    [example] = _python_blocks(ROOT / "docs" / "architecture.md", "## Embedding the domain")
    burst, messages, (field, rule) = _run(example)
    assert burst == (True,), "the jump is a burst, as the example says"
    assert isinstance(messages[0], list) and len(messages[0]) == 1, "one event for one crossing"
    assert "crossed 70" in messages[0][0] and "(72.0); now 71.0" in messages[0][0]
    assert field == "value" and "must be a count" in str(rule)


def test_the_package_exports_what_an_embedder_builds_its_input_from() -> None:
    """A NEW_VIRAL_AD rule needs ViralAd hits of an Ad; readings of one's own follow the Reading
    protocol; the burst detector's defaults are its DEFAULT_BURST_PARAMS."""
    for name in (
        "Ad",
        "Reading",
        "DEFAULT_BURST_PARAMS",
        "BurstDetector",
        "BurstParams",
        "AlertRule",
        "AlertRuleKind",
        "AlertEvent",
        "TrendScore",
        "TrendAssessment",
        "ViralAd",
        "EngagementSnapshot",
        "InvalidValue",
    ):
        assert name in domain.__all__, name
        assert hasattr(domain, name), name
    assert sorted(domain.__all__) == sorted(set(domain.__all__))
    assert issubclass(domain.InvalidValue, DomainError)
