"""Example lengths in tokens of the base model's own tokenizer and chat template."""

from collections.abc import Callable
from typing import Any

# (assistant-turn tokens, whole-conversation tokens) of one chat example.
TokenCounter = Callable[[dict[str, Any]], tuple[int, int]]


def chat_token_counter(model_path: str) -> TokenCounter:
    """A counter using the tokenizer at model_path, the one training will use."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)

    def count(example: dict[str, Any]) -> tuple[int, int]:
        messages = [{"role": m["role"], "content": m["content"]} for m in example["messages"]]
        ids = tokenizer.apply_chat_template(messages, tokenize=True)
        total = len(ids["input_ids"] if hasattr(ids, "keys") else ids)
        answer = tokenizer(messages[-1]["content"], add_special_tokens=False)["input_ids"]
        return len(answer), total

    return count
