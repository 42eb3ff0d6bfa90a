"""Token counts with the base model's tokenizer, kept between runs by content.

Does not touch: Dagster (curated_dataset uses this; see test_dataset_assets.py).
"""

from pathlib import Path

import pytest

from forge_pipeline.lib.core import tokens
from forge_pipeline.lib.core.tokens import CachedTokenCounter, chat_token_counter


def example(answer: str) -> dict:
    return {
        "messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "What did I learn?"},
            {"role": "assistant", "content": answer},
        ]
    }


def test_counts_are_kept_and_a_rerun_needs_no_tokenizer(
    tiny_model: Path, tmp_path: Path, monkeypatch
):
    cache = tmp_path / "counts.json"
    first = CachedTokenCounter(str(tiny_model), cache)
    counts = [first(example("Slow mornings help.")), first(example("Walks clear my head."))]
    first.save()
    assert counts[0] == chat_token_counter(str(tiny_model))(example("Slow mornings help."))

    def no_tokenizer(path: str):
        raise AssertionError("the tokenizer was loaded for a known example")

    monkeypatch.setattr(tokens, "chat_token_counter", no_tokenizer)
    again = CachedTokenCounter(str(tiny_model), cache)
    assert [again(example("Slow mornings help.")), again(example("Walks clear my head."))] == counts
    with pytest.raises(AssertionError, match="tokenizer was loaded"):
        again(example("Something new."))


def test_only_this_runs_examples_are_kept(tiny_model: Path, tmp_path: Path):
    cache = tmp_path / "counts.json"
    first = CachedTokenCounter(str(tiny_model), cache)
    first(example("One."))
    first(example("Two."))
    first.save()
    second = CachedTokenCounter(str(tiny_model), cache)
    second(example("Two."))
    second.save()
    assert len(CachedTokenCounter(str(tiny_model), cache).known) == 1
