"""Curate chat examples: review, dedupe (exact and near), token-length limits, split by file."""

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from forge_pipeline.lib.core import chat
from forge_pipeline.lib.core.config import Curation
from forge_pipeline.lib.core.example_id import example_id
from forge_pipeline.lib.core.tokens import TokenCounter
from forge_pipeline.lib.dataset.forgetting import Forgotten
from forge_pipeline.lib.dataset.redact import find_pii, redact
from forge_pipeline.lib.dataset.review import Review

if TYPE_CHECKING:
    from datasketch import MinHash

NUM_PERM = 128
DROP_REASONS = [
    "forgotten",
    "excluded_in_review",
    "duplicate",
    "near_duplicate",
    "too_short",
    "too_long",
]


@dataclass
class Curated:
    """The train and val examples, how many were dropped for what, and what the review did."""

    train: list[dict[str, Any]]
    val: list[dict[str, Any]]
    dropped: dict[str, int] = field(default_factory=dict)
    redactions: int = 0
    edited: int = 0
    unknown_review_ids: list[str] = field(default_factory=list)
    token_lengths: list[int] = field(default_factory=list)


def curate(
    examples: list[dict[str, Any]],
    rules: Curation,
    count_tokens: TokenCounter,
    review: Review | None = None,
    forgotten: Forgotten | None = None,
) -> Curated:
    """Drop forgotten notes, apply the review, drop duplicates and length outliers, split."""
    from datasketch import MinHashLSH  # here: it loads scipy (~0.6 s) on every Dagster step

    review, forgotten = review or Review(), forgotten or Forgotten()
    dropped = dict.fromkeys(DROP_REASONS, 0)
    seen: set[str] = set()
    near = MinHashLSH(threshold=rules.near_duplicate_threshold, num_perm=NUM_PERM)
    kept: list[dict[str, Any]] = []
    lengths: list[int] = []
    redactions = edited = 0
    known: set[str] = set()
    for example in examples:
        example = {"id": example_id(example["source_file"], chat.answer(example)), **example}
        known.add(example["id"])
        if forgotten.matches(example):
            dropped["forgotten"] += 1
            continue
        if example["id"] in review.exclude:
            dropped["excluded_in_review"] += 1
            continue
        if example["id"] in review.edit:
            example = review.apply(example)
            edited += 1
        if rules.redact_pii:
            example, count = redacted(example)
            redactions += count
        key = " ".join(chat.answer(example).lower().split())
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        answer_tokens, total_tokens = count_tokens(example)
        if answer_tokens < rules.min_tokens:
            dropped["too_short"] += 1
            continue
        if total_tokens > rules.max_tokens:
            dropped["too_long"] += 1
            continue
        signature = minhash(key)
        if near.query(signature):
            dropped["near_duplicate"] += 1
            continue
        near.insert(f"{len(kept)}:{example['id']}", signature)
        kept.append(example)
        lengths.append(total_tokens)
    val_files = val_sources(sorted({e["source_file"] for e in kept}), rules)
    return Curated(
        train=[e for e in kept if e["source_file"] not in val_files],
        val=[e for e in kept if e["source_file"] in val_files],
        dropped=dropped,
        redactions=redactions,
        edited=edited,
        unknown_review_ids=sorted(review.ids() - known),
        token_lengths=lengths,
    )


def minhash(text: str) -> "MinHash":
    """A MinHash of the text's word pairs (its one word, when it has only one)."""
    from datasketch import MinHash

    words = text.split()
    shingles = {" ".join(words[i : i + 2]) for i in range(max(1, len(words) - 1))}
    signature = MinHash(num_perm=NUM_PERM, seed=1)
    signature.update_batch([s.encode() for s in shingles])
    return signature


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
