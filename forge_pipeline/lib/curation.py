"""Curate chat examples: drop duplicates and out-of-range lengths, split by source file."""

import hashlib
from dataclasses import dataclass, field
from typing import Any

from forge_pipeline.lib.config import Curation
from forge_pipeline.lib.redact import find_pii, redact


@dataclass
class Curated:
    """The train and val examples, and how many were dropped for what."""

    train: list[dict[str, Any]]
    val: list[dict[str, Any]]
    dropped: dict[str, int] = field(default_factory=dict)
    redactions: int = 0


def assistant_text(example: dict[str, Any]) -> str:
    """The assistant turn of a chat example."""
    return next(m["content"] for m in example["messages"] if m["role"] == "assistant")


def curate(examples: list[dict[str, Any]], rules: Curation) -> Curated:
    """Remove exact duplicates and length outliers, then split train/val by source file."""
    dropped = {"duplicate": 0, "too_short": 0, "too_long": 0}
    seen: set[str] = set()
    kept: list[dict[str, Any]] = []
    redactions = 0
    for example in examples:
        if rules.redact_pii:
            example, count = redacted(example)
            redactions += count
        text = assistant_text(example)
        key = " ".join(text.lower().split())
        if key in seen:
            dropped["duplicate"] += 1
        elif len(text) < rules.min_chars:
            dropped["too_short"] += 1
        elif len(text) > rules.max_chars:
            dropped["too_long"] += 1
        else:
            seen.add(key)
            kept.append(example)
    val_files = val_sources(sorted({e["source_file"] for e in kept}), rules)
    return Curated(
        train=[e for e in kept if e["source_file"] not in val_files],
        val=[e for e in kept if e["source_file"] in val_files],
        dropped=dropped,
        redactions=redactions,
    )


def redacted(example: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The example with emails, phone numbers and URLs replaced in every turn."""
    messages, total = [], 0
    for message in example["messages"]:
        content, count = redact(message["content"])
        messages.append({**message, "content": content})
        total += count
    return {**example, "messages": messages}, total


def pii_left(examples: list[dict[str, Any]]) -> int:
    """How many examples still hold an email, phone number or URL."""
    return sum(1 for e in examples if any(find_pii(m["content"]) for m in e["messages"]))


def val_sources(sources: list[str], rules: Curation) -> set[str]:
    """Deterministic held-out files: those whose seeded hash falls under val_fraction."""

    def bucket(source: str) -> float:
        digest = hashlib.sha256(f"{rules.seed}:{source}".encode()).hexdigest()
        return int(digest[:8], 16) / 0xFFFFFFFF

    chosen = {s for s in sources if bucket(s) < rules.val_fraction}
    if not chosen and len(sources) > 1 and rules.val_fraction > 0:
        chosen = {min(sources, key=bucket)}  # a tiny vault still gets one val file
    if chosen == set(sources) and len(sources) > 1:
        chosen.discard(max(sources, key=bucket))
    return chosen
