"""Answers for evaluation in llama.cpp, read from the last run's memo where it has them.

Does not touch: Dagster, the default model.
"""

from pathlib import Path

import pytest

from forge_pipeline.lib.evaluation.generation import answers
from forge_pipeline.lib.export.gguf_check import GGUFError


def test_answers_in_a_memo_are_read_and_new_questions_are_answered(tiny_gguf: Path, tmp_path: Path):
    asked = ("sys", ["What did I learn?", "What went well?"], 12, 1, 0.8)
    memo: dict = {}
    first = answers(tiny_gguf, *asked, memo=memo)
    assert len(memo) == 2 and all(r.tokens > 0 for r in first)
    assert answers(tmp_path / "gone.gguf", *asked, memo=dict(memo)) == first
    # A question's seed is its own: the same answer whatever else is asked beside it.
    assert answers(tiny_gguf, "sys", ["What went well?"], 12, 1, 0.8) == first[1:]
    # A prompt asked twice (as template prompts are) is two draws, each with its own seed.
    twice: dict = {}
    answers(tiny_gguf, "sys", ["What went well?", "What went well?"], 12, 1, 0.8, twice)
    assert len(twice) == 2
    with pytest.raises(GGUFError):
        answers(tmp_path / "gone.gguf", "sys", ["Something new?"], 12, 1, 0.8, dict(memo))
