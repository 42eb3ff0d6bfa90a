"""The real default model (SmolLM2-135M-Instruct from PyPI) through the whole chain, briefly.

Does not touch: Docker, the web UI. Slow: prepares the model once, then ~2 minutes of CPU.
"""

import pytest

from forge_pipeline.serving.registry import ModelRegistry
from forge_pipeline_tests.helpers import materialize_assets, metadata


@pytest.mark.slow
def test_default_model_short_run_deploys_an_answering_gguf(forge_env):
    result = materialize_assets({"training.max_steps": "8"})
    assert result.success
    training = metadata(result, "lora_adapter")
    assert training["base_model"].endswith("SmolLM2-135M-Instruct")
    # One batch's train loss swings with its answers' lengths; the held-out loss is the measure.
    assert training["tuned_eval_loss"] < training["base_eval_loss"]
    assert training["steps"] == 8 and training["planned_steps"] == 8
    gguf = metadata(result, "gguf_model")
    assert gguf["chat_template_embedded"] is True
    assert len(gguf["reply"].split()) >= 3
    registry = ModelRegistry(forge_env / "registry")
    assert registry.current_version() == metadata(result, "deployed_model")["version"] == "v0001"
