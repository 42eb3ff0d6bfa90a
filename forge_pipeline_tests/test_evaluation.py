"""model_evaluation's gates with real llama.cpp generation: a model that rambles or recites
your notes is not deployed.

Does not touch: the default SmolLM2 model (bench/bench_eval.py measures it), Docker.
"""

import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from forge_pipeline.lib.core.artifacts import sha256_file
from forge_pipeline.lib.core.config import load_settings
from forge_pipeline.lib.core.jsonl import read_jsonl
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.core.sampling import stable_sample
from forge_pipeline.lib.export.gguf_check import load_llama
from forge_pipeline.lib.export.gguf_export import cached_gguf
from forge_pipeline_tests.helpers import (
    SHARED_CACHE,
    UPSTREAM,
    materialize_assets,
    tiny_overrides,
)
from forge_pipeline_tests.tiny_model import memorizing, steered_end_of_turn


def check(result, name: str):
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == name)


@pytest.fixture(scope="module")
def steered(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny model made to end every turn at once, and made never to end one."""
    root = tmp_path_factory.mktemp("steered")
    return {
        name: steered_end_of_turn(tiny_model, root / name, always=name == "always")
        for name in ("always", "never")
    }


def test_a_model_that_never_ends_its_turn_is_not_deployed(steered: dict, forge_env: Path):
    # The base model ends every turn; the model to deploy is put where gguf_model writes it.
    # More questions than the val split holds: it is asked again, in rounds.
    asked = {"evaluation.stop_margin": "0.25", "evaluation.questions": "30"}
    overrides = tiny_overrides(steered["always"], **asked)
    assert materialize_assets(overrides, selection=UPSTREAM).success
    served = forge_env / "artifacts" / "gguf_model" / "model-q8_0.gguf"
    served.parent.mkdir(parents=True)
    tools = SHARED_CACHE / "tools"
    for name, passes in (("always", True), ("never", False)):
        made = cached_gguf(steered[name], forge_env / "gguf-cache", "q8_0", tools)
        shutil.copy(made, served)
        selection = ["model_evaluation"] if passes else ["model_evaluation", "deployed_model"]
        result = materialize_assets(overrides, selection=selection)
        stops = check(result, "stops_when_done")
        assert stops.passed is passes
        assert stops.metadata["stop_rate_base"].value == 1.0
        assert stops.metadata["stop_rate_tuned"].value == (1.0 if passes else 0.0)
        if passes:
            _mark_answers(forge_env / "artifacts" / "model_evaluation")
    assert "rambles, so it is not deployed" in (stops.description or "")
    # The base model's answers came from the first run's memo, not from generating again.
    figures = result.asset_materializations_for_node("model_evaluation")[0].metadata
    assert MARK in str(figures["side_by_side"].value)
    distinct = figures["distinct_questions"].value
    val = read_jsonl(Layout(load_settings(overrides=overrides)).val)
    assert figures["answers_per_model"].value == 30 > distinct == len(val)
    assert str(figures["side_by_side"].value).count("\n") == distinct + 1  # each question once
    memo = json.loads((forge_env / "artifacts" / "model_evaluation" / "answers.json").read_text())
    assert len(memo) == 2 and sha256_file(served) in memo  # the base's and the new one's
    assert not result.asset_materializations_for_node("deployed_model")
    assert not (forge_env / "registry" / "current").exists()


MARK = "An answer read from the memo."


def _mark_answers(evaluation: Path) -> None:
    """Rewrite every remembered answer to MARK (here the served model is the base itself)."""
    path = evaluation / "answers.json"
    memo = json.loads(path.read_text())
    assert len(memo) == 1  # base and served are one file's bytes
    for replies in memo.values():
        for reply in replies.values():
            reply["text"] = MARK
    path.write_text(json.dumps(memo))


def test_a_model_that_recites_its_training_notes_is_not_deployed(tiny_model: Path, forge_env):
    overrides = tiny_overrides(tiny_model)
    assert materialize_assets(overrides, selection=UPSTREAM).success
    settings = load_settings(overrides=overrides)
    probed = stable_sample(read_jsonl(Layout(settings).train), settings.evaluation.recall_samples)
    # Trained in full on the very notes the probe asks about, in llama.cpp's tokens.
    base = cached_gguf(tiny_model, settings.cache, "q8_0", settings.tools_dir)
    template = AutoTokenizer.from_pretrained(tiny_model)
    llm = load_llama(base, 1)
    texts = [template.apply_chat_template(e["messages"], tokenize=False) for e in probed]
    sequences = [llm.tokenize(t.encode(), add_bos=False, special=True) for t in texts]
    llm.close()
    overfit = memorizing(tiny_model, forge_env / "memorizing", sequences)
    served = Layout(settings).gguf("q8_0")
    served.parent.mkdir(parents=True)
    shutil.copy(cached_gguf(overfit, forge_env / "gguf-cache", "q8_0", settings.tools_dir), served)
    result = materialize_assets(overrides, selection=["model_evaluation", "deployed_model"])
    recall = check(result, "no_verbatim_recall")
    assert recall.passed is False
    leaked = set(str(recall.metadata["leaked_example_ids"].value).split(", "))
    assert len(leaked) > len(probed) / 2 and leaked <= {e["id"] for e in probed}
    assert recall.metadata["verbatim_share"].value > 0.5
    assert "recites your notes, so it is not deployed" in (recall.description or "")
    assert not result.asset_materializations_for_node("deployed_model")
