"""What a curated set looks like (tags, months, lengths) and what is wrong with it, if anything."""

from collections import Counter
from typing import Any

from forge_pipeline.lib.core import chat

LENGTH_BUCKETS = [0, 32, 64, 128, 256, 512, 1024]


def schema_errors(examples: list[dict[str, Any]]) -> int:
    """Examples whose messages are not system?/user/assistant turns of role and text."""

    def valid(example: dict[str, Any]) -> bool:
        messages = example.get("messages")
        if not isinstance(messages, list) or not messages:
            return False
        if not all(
            isinstance(m, dict)
            and isinstance(m.get("content"), str)
            and m.get("role") in ("system", "user", "assistant")
            for m in messages
        ):
            return False
        roles = [m["role"] for m in messages if m["role"] != "system"]
        return bool(roles) and roles[0] == "user" and roles[-1] == "assistant"

    return sum(1 for e in examples if not valid(e))


def empty_turns(examples: list[dict[str, Any]]) -> int:
    """Examples with a user or assistant turn that is blank."""
    return sum(
        1
        for e in examples
        if any(
            m.get("role") in ("user", "assistant") and not str(m.get("content", "")).strip()
            for m in e.get("messages", [])
        )
    )


def duplicates_left(examples: list[dict[str, Any]]) -> int:
    """Examples whose assistant turn repeats an earlier one (whitespace and case ignored)."""
    keys = Counter(" ".join(chat.answer(e).lower().split()) for e in examples)
    return sum(count - 1 for count in keys.values())


def by_tag(examples: list[dict[str, Any]], top: int = 15) -> list[tuple[str, int]]:
    """The most common note tags among the examples."""
    return Counter(t for e in examples for t in e.get("tags") or []).most_common(top)


def by_month(examples: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Examples per month of the note's date (undated last)."""
    months = Counter((e.get("date") or "undated")[:7] for e in examples)
    return sorted(months.items(), key=lambda kv: (kv[0] == "undated", kv[0]))


def length_histogram(lengths: list[int]) -> list[tuple[str, int]]:
    """Lengths (in tokens) bucketed."""
    counts = Counter(max(b for b in LENGTH_BUCKETS if b <= size) for size in lengths)
    edges = [*LENGTH_BUCKETS[1:], None]
    return [
        (f"{low}–{high - 1}" if high else f"{low}+", counts[low])
        for low, high in zip(LENGTH_BUCKETS, edges, strict=True)
    ]


def percentile(sorted_values: list[int], share: float) -> int:
    """The value below which `share` of the sorted values fall (0 for none)."""
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]
