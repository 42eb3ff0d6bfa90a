"""Shared fixtures: an isolated FORGE_HOME per test, the sample vault, the tiny test model."""

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from forge_pipeline.lib.config import PROJECT_ROOT, load_settings
from forge_pipeline.lib.reflections import examples_from_note
from forge_pipeline.lib.vault import scan_vault
from forge_pipeline_tests.tiny_model import build_tiny_model

SAMPLE_VAULT = PROJECT_ROOT / "examples" / "vault"
SHARED_CACHE = PROJECT_ROOT / ".forge" / "cache"
# The assets up to the curated set, which training starts from.
UPSTREAM = ["vault_notes", "reflection_examples", "dataset_examples", "curated_dataset"]


@pytest.fixture(autouse=True)
def forge_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own FORGE_HOME and DAGSTER_HOME; downloads share one cache."""
    for name in list(os.environ):
        if name.startswith("FORGE_"):
            monkeypatch.delenv(name)
    home = tmp_path / "forge-home"
    (home / "dagster").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster" / "dagster.yaml")
    monkeypatch.setenv("FORGE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("FORGE_CACHE_DIR", str(SHARED_CACHE))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)  # a developer's key never reaches tests
    return home


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with a tokenizer trained on the sample vault's reflections."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), sample_texts())


def sample_texts() -> list[str]:
    """The system prompt and every turn of the sample vault's reflections: tokenizer food."""
    settings = load_settings()
    texts = [settings.system_prompt]
    for note in scan_vault(SAMPLE_VAULT).notes:
        for example in examples_from_note(note, settings.extraction, settings.system_prompt):
            texts.extend(m["content"] for m in example["messages"][1:])
    return texts


def tiny_overrides(tiny_model: Path, **extra: str) -> dict[str, str]:
    """Run-config overrides that make the whole chain train the tiny model in seconds."""
    return {
        "base_model": str(tiny_model),
        "training.max_steps": "30",
        "training.batch_size": "8",
        "training.learning_rate": "0.005",
        "training.max_length": "128",
        "curation.min_examples": "20",
        **extra,
    }


@pytest.fixture(scope="session")
def tiny_gguf(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model as an f16 GGUF, written by llama.cpp's converter."""
    from forge_pipeline.lib.gguf_export import convert_to_gguf

    target = tmp_path_factory.mktemp("tiny-gguf") / "model-f16.gguf"
    return convert_to_gguf(tiny_model, target, "f16", SHARED_CACHE / "tools")


def write_gguf(path: Path, general_type: str, chat_template: str | None) -> Path:
    """A small header-only GGUF with the given type and template, for refusal tests."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_type(general_type)
    if chat_template:
        writer.add_chat_template(chat_template)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def materialize_assets(
    overrides: dict[str, str],
    selection: list[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    server_url: str = "http://127.0.0.1:9",
    gemini_key: str = "",
) -> dg.ExecuteInProcessResult:
    """Materialize Forge's assets in process; by default no model server and no Gemini."""
    from forge_pipeline.definitions import defs
    from forge_pipeline.defs.resources import (
        ForgeResource,
        GeminiResource,
        HardwareResource,
        ModelServerResource,
    )
    from forge_pipeline.defs.training.launcher import TrainerLauncher

    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    return dg.materialize(
        assets,
        selection=selection,
        instance=instance,
        resources={
            "forge": ForgeResource(overrides=overrides),
            "hardware": HardwareResource(),
            "trainer": TrainerLauncher(),
            "model_server": ModelServerResource(url=server_url),
            "gemini": GeminiResource(api_key=gemini_key),
        },
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    """Plain metadata values of an asset's first materialization in this run."""
    event = result.asset_materializations_for_node(asset)[0]
    return {key: getattr(value, "value", value) for key, value in event.metadata.items()}
