"""Example lengths in tokens of the base model's own tokenizer and chat template."""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from forge_pipeline.lib.core.artifacts import atomic_file

# (assistant-turn tokens, whole-conversation tokens) of one chat example.
TokenCounter = Callable[[dict[str, Any]], tuple[int, int]]


def token_ids(encoded: Any) -> list[int]:
    """The ids of an apply_chat_template result (a list, or a dict-like BatchEncoding)."""
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def chat_token_counter(model_path: str) -> TokenCounter:
    """A counter using the tokenizer at model_path, the one training will use."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)

    def count(example: dict[str, Any]) -> tuple[int, int]:
        messages = [{"role": m["role"], "content": m["content"]} for m in example["messages"]]
        total = len(token_ids(tokenizer.apply_chat_template(messages, tokenize=True)))
        answer = tokenizer(messages[-1]["content"], add_special_tokens=False)["input_ids"]
        return len(answer), total

    return count


class CachedTokenCounter:
    """chat_token_counter with the counts of earlier runs kept in a file, keyed by content.

    The tokenizer is loaded only when an example is new, so a nightly run on an unchanged vault
    neither imports transformers nor tokenizes anything.
    """

    def __init__(self, model_path: str, cache_path: Path):
        self.model_path = model_path
        self.cache_path = cache_path
        try:
            self.known: dict[str, list[int]] = json.loads(cache_path.read_text())
        except (OSError, ValueError):
            self.known = {}
        self.used: dict[str, list[int]] = {}
        self._count: TokenCounter | None = None

    def __call__(self, example: dict[str, Any]) -> tuple[int, int]:
        turns = [[m["role"], m["content"]] for m in example["messages"]]
        key = hashlib.sha256(json.dumps([self.model_path, turns]).encode()).hexdigest()[:24]
        if key not in self.known:
            self._count = self._count or chat_token_counter(self.model_path)
            self.known[key] = list(self._count(example))
        self.used[key] = self.known[key]
        answer, total = self.used[key]
        return answer, total

    def save(self) -> None:
        """Keep the counts of this run's examples (and only those) for the next run."""
        if self._count is not None or len(self.used) != len(self.known):
            with atomic_file(self.cache_path) as tmp:
                tmp.write_text(json.dumps(self.used))
