"""The whole chain, materialized with the tiny test model: vault to deployed GGUF.

Does not touch: the default SmolLM2 model (see test_chain_default.py), Docker, the web UI.
"""

import base64
from pathlib import Path

import dagster as dg
import pytest
from llama_cpp import Llama

from forge_pipeline.serving.registry import ModelRegistry
from forge_pipeline_tests.helpers import (
    BESIDE_CHAIN,
    CHAIN,
    SAMPLE_VAULT,
    UPSTREAM,
    materialize_assets,
    metadata,
    tiny_overrides,
    vault_digest,
)


@pytest.fixture(scope="module")
def chain_instance() -> dg.DagsterInstance:
    """One Dagster instance for this module's runs, so a later run sees the earlier ones."""
    return dg.DagsterInstance.ephemeral()


@pytest.fixture(scope="module")
def chain_run(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory, chain_instance):
    """One full run shared by this module's tests, in its own FORGE_HOME."""
    home = tmp_path_factory.mktemp("chain-home")
    before = vault_digest(SAMPLE_VAULT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FORGE_HOME", str(home))
        overrides = tiny_overrides(tiny_model, **{"export.score_examples": "5"})
        result = materialize_assets(overrides, instance=chain_instance)
    assert vault_digest(SAMPLE_VAULT) == before, "the run changed the vault"
    return result, home


def test_every_stage_materializes(chain_run):
    result, _ = chain_run
    assert result.success
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert done == {*CHAIN, *BESIDE_CHAIN}


def test_checks_pass(chain_run):
    result, _ = chain_run
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {
        "enough_examples": True,
        "train_val_disjoint": True,
        "no_pii_left": True,
        "schema_valid": True,
        "no_empty_turns": True,
        "no_duplicates_left": True,
        "tuned_beats_base": True,
        "beats_deployed": True,
        "stops_when_done": True,
        "no_verbatim_recall": True,
        "no_pii_in_answers": True,
    }


def test_vault_notes_accounts_for_broken_files(chain_run):
    result, _ = chain_run
    meta = metadata(result, "vault_notes")
    assert meta["files_seen"] == meta["notes_parsed"] + meta["notes_skipped"]
    assert meta["notes_skipped"] == 5
    assert "not valid UTF-8" in meta["skipped_files"]
    assert "empty file" in meta["skipped_files"]
    assert meta["notes_with_problems"] == 1


def test_training_lowers_the_loss(chain_run):
    result, _ = chain_run
    meta = metadata(result, "lora_adapter")
    assert meta["steps"] == 30
    assert meta["last_train_loss"] < meta["first_train_loss"]
    assert meta["tuned_eval_loss"] < meta["base_eval_loss"]
    assert meta["precision"] == "fp32" and meta["loss_on"] == "assistant tokens"
    assert meta["backend"] == "peft" and meta["padding_free"] is False
    assert "| 30 |" in meta["loss_curve"] and "val loss" in meta["loss_curve"]
    png = base64.b64decode(meta["loss_curve_image"].split("base64,")[1].rstrip(")"))
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert "| batch_size | 8 | forge.yaml |" in meta["plan"]
    assert meta["tokens_per_s"] > 0


def test_deployed_gguf_loads_and_answers(chain_run):
    result, home = chain_run
    meta = metadata(result, "deployed_model")
    registry = ModelRegistry(home / "registry")
    current = registry.current_model()
    assert meta["version"] == registry.current_version() == "v0001"
    assert current.read_bytes()[:4] == b"GGUF"
    llm = Llama(model_path=str(current), n_ctx=256, n_threads=2, verbose=False)
    reply = llm.create_chat_completion(
        messages=[{"role": "user", "content": "What did I learn?"}], max_tokens=8
    )
    assert reply["usage"]["completion_tokens"] > 0
    assert llm.metadata["tokenizer.chat_template"].count("<|im_start|>") >= 1
    llm.close()
    assert metadata(result, "gguf_model")["chat_template_embedded"] is True
    assert current.name == "model-q8_0.gguf"


def test_every_export_type_is_registered_with_a_modelfile(chain_run):
    result, home = chain_run
    registry = ModelRegistry(home / "registry")
    manifest = registry.manifest(registry.current_version())
    assert set(manifest["files"]) == {
        f"model-{t}.{ext}" for t in ("f16", "q8_0", "q4_k_m") for ext in ("gguf", "Modelfile")
    }
    assert manifest["dataset_version"] and manifest["source_run_id"] == result.run_id
    # What a later warm start compares with the current adapter: the adapter this was made of.
    assert manifest["adapter_sha256"] == metadata(result, "lora_adapter")["sha256"]
    modelfile = (registry.versions_dir / manifest["version"] / "model-q4_k_m.Modelfile").read_text()
    assert modelfile.startswith("FROM ./model-q4_k_m.gguf") and '"<|im_end|>"' in modelfile
    assert "| q4_k_m |" in metadata(result, "gguf_model")["files"]
    # export.score_examples 5: each model is scored on 5 val examples, not the whole val set.
    assert metadata(result, "gguf_model")["scored_examples"] == 5


def test_blocking_check_stops_deploy_when_training_fails_to_help(tiny_model: Path, forge_env):
    result = materialize_assets(tiny_overrides(tiny_model, **{"training.learning_rate": "0.0"}))
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations["tuned_beats_base"] is False
    assert not result.asset_materializations_for_node("deployed_model")
    assert not (forge_env / "registry" / "current").exists()


def test_a_rerun_on_an_unchanged_vault_skips_training_export_and_deploy(
    chain_run, chain_instance, tiny_model: Path, monkeypatch
):
    first, home = chain_run
    monkeypatch.setenv("FORGE_HOME", str(home))
    again = materialize_assets(tiny_overrides(tiny_model), instance=chain_instance)
    assert again.success
    skipped = {
        e.step_key for e in again.all_events if e.event_type == dg.DagsterEventType.STEP_SKIPPED
    }
    assert skipped == {"merged_model", "gguf_model", "model_evaluation", "deployed_model"}
    done = {e.asset_key.to_user_string() for e in again.get_asset_materialization_events()}
    assert done == {*UPSTREAM, "dataset_study"}
    assert metadata(again, "vault_notes")["notes_read_this_run"] == 0
    assert ModelRegistry(home / "registry").current_version() == "v0001"


def test_an_adapter_trained_alone_is_exported_by_the_next_run_without_training_again(
    tiny_model: Path, forge_env: Path
):
    instance, overrides = dg.DagsterInstance.ephemeral(), tiny_overrides(tiny_model)
    trained = materialize_assets(overrides, [*UPSTREAM, "lora_adapter"], instance)  # forge train
    assert trained.success
    full = materialize_assets(overrides, instance=instance)
    assert full.success
    kept = metadata(full, "lora_adapter")
    assert kept["start"].startswith("kept: run ") and "never exported" in kept["start"]
    assert kept["sha256"] == metadata(trained, "lora_adapter")["sha256"]
    assert ModelRegistry(forge_env / "registry").current_version() == "v0001"
    again = materialize_assets(overrides, instance=instance)  # now it is a no-op
    assert not again.asset_materializations_for_node("lora_adapter")
    assert not again.asset_materializations_for_node("deployed_model")
