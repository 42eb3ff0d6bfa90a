"""Fixed samples of a list of examples, the same every run."""

import hashlib
from collections.abc import Sequence
from typing import Any


def stable_sample(examples: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """count examples chosen by a hash of their id, in list order: spread over months and
    notes, and the same ones as the set grows (a new example displaces one only by hashing
    lower), so what an earlier run computed for them still applies."""
    ranked = sorted(range(len(examples)), key=lambda i: _rank(examples[i]["id"]))
    return [examples[i] for i in sorted(ranked[:count])]


def asked_rounds(sample: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """count questions from the sample, in rounds of the whole sample when it holds fewer: a
    small val split is asked again (each time with a new seed) so that enough text is
    generated to compare voices."""
    return [sample[i % len(sample)] for i in range(count)] if sample else []


def _rank(example_id: str) -> bytes:
    return hashlib.sha256(example_id.encode()).digest()
