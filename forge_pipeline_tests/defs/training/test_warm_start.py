"""lora_adapter continues the current adapter when the vault only grew, and starts afresh
when a note changed, the warm attempt failed or a check after it kept it from serving.

Does not touch: export and later stages.
"""

import json
import math
import shutil
from pathlib import Path

import dagster as dg
import pytest

from forge_pipeline.lib.core.config import load_settings
from forge_pipeline.lib.core.jsonl import read_jsonl
from forge_pipeline.serving.registry import ModelRegistry
from forge_pipeline_tests.helpers import SAMPLE_VAULT, UPSTREAM, materialize_assets, metadata
from forge_pipeline_tests.helpers import tiny_overrides as tiny

SELECTION = [*UPSTREAM, "lora_adapter"]
DAYS = {
    "2026-07-02": "I finally said no to the extra project, and I felt lighter all afternoon. "
    "I keep learning that a clear refusal is kinder than a tired yes.",
    "2026-07-03": "I walked to the river before work and noticed how much calmer I start the "
    "day when I leave my phone at home. I want to keep that habit this summer.",
    "2026-07-04": "I cooked for my sister tonight and we talked about our father for hours. I "
    "realized I have been carrying his old worries as if they were mine.",
    "2026-07-05": "I spent the morning fixing the bike instead of buying a new one. I am proud "
    "that I stayed patient with the rusted chain, which is not like me at all.",
}


def write_days(vault: Path, days: dict[str, str]) -> None:
    for day, text in days.items():
        (vault / "Daily" / f"{day}.md").write_text(f"---\ndate: {day}\n---\n\n## Journal\n{text}\n")


def vault_to_grow(
    tiny_model: Path, tmp_path: Path
) -> tuple[Path, dict[str, str], dg.DagsterInstance]:
    """A copy of the sample vault, the tiny model's settings, and one instance for every run."""
    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, vault)
    # The tiny model's 30 steps leave it undertrained: a replay of everything old lets the warm
    # run lower the val loss for sure (the default replay, 4 per new example, is unit-tested).
    overrides = tiny(tiny_model, vault=str(vault), **{"training.warm_replay": "50"})
    return vault, overrides, dg.DagsterInstance.ephemeral()


def train(overrides: dict[str, str], instance: dg.DagsterInstance) -> dict:
    result = materialize_assets(overrides, SELECTION, instance)
    assert result.success
    return metadata(result, "lora_adapter")


def test_a_grown_vault_trains_warm_and_a_changed_one_from_scratch(
    tiny_model: Path, forge_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    vault, overrides, instance = vault_to_grow(tiny_model, tmp_path)
    first = train(overrides, instance)
    assert first["start"] == "from scratch: no adapter trained yet" and first["warm_chain"] == 0
    serve_a_model_of(first["sha256"])  # it passed every check after training and serves
    curated = forge_env / "artifacts" / "curated_dataset"
    before = {e["id"] for e in read_jsonl(curated / "train.jsonl")}

    write_days(vault, dict(list(DAYS.items())[:3]))
    warm = train(overrides, instance)
    train_ids = {e["id"] for e in read_jsonl(curated / "train.jsonl")}
    new = len(train_ids - before)
    assert new > 0
    replayed = min(len(before), 50 * new)
    assert warm["start"].startswith(f"warm: {new} new examples + {replayed} replayed of the ")
    assert warm["warm_start"] and warm["warm_chain"] == 1
    # 3 epochs of the warm set at batch 8, not the 30 steps forge.yaml gives a whole run.
    assert warm["steps"] == math.ceil(3 * (new + replayed) / 8)
    assert warm["tuned_eval_loss"] <= warm["start_eval_loss"]
    assert warm["tuned_eval_loss"] < warm["base_eval_loss"]
    record = json.loads((forge_env / "artifacts" / "lora_adapter" / "trained_on.json").read_text())
    assert set(record["train"]) == train_ids

    # A warm attempt that fails falls back to a full run, healed as any run is.
    serve_a_model_of(warm["sha256"])  # the warm adapter passed every check and serves
    write_days(vault, dict(list(DAYS.items())[3:]))
    monkeypatch.setenv("FORGE_TRAIN_INJECT", "oom:4")
    healed = train(overrides, instance)
    assert healed["start"].startswith("from scratch: the warm start failed")
    assert healed["warm_chain"] == 0 and not healed["warm_start"] and healed["attempts"] == 2
    monkeypatch.delenv("FORGE_TRAIN_INJECT")
    serve_a_model_of(healed["sha256"])

    note = vault / "Daily" / "2026-07-02.md"
    note.write_text(note.read_text().replace("lighter", "much lighter"))
    changed = train(overrides, instance)
    assert changed["start"] in (
        f"from scratch: 1 {split} examples changed or removed since the current adapter"
        for split in ("train", "val")
    )


def serve_a_model_of(adapter_sha256: str) -> None:
    """Make `current` a version whose manifest says which adapter it was made of."""
    registry = ModelRegistry(load_settings().registry_dir)
    model = registry.root.parent / "model-q8_0.gguf"
    model.write_bytes(b"GGUF stand-in: the check reads only the manifest")
    version = registry.register([model], model.name, {"adapter_sha256": adapter_sha256})
    registry.activate(version["version"])


def test_a_warm_adapter_that_is_not_what_serves_is_retrained_from_scratch(
    tiny_model: Path, forge_env: Path, tmp_path: Path
):
    vault, overrides, instance = vault_to_grow(tiny_model, tmp_path)
    first = train(overrides, instance)
    serve_a_model_of(first["sha256"])  # the scratch adapter passed every check and serves
    write_days(vault, dict(list(DAYS.items())[:2]))
    warm = train(overrides, instance)
    assert warm["warm_start"]

    # A check after training failed on the warm adapter: the first one still serves. Nothing
    # in the vault changed, and yet the next run trains again, from scratch.
    again = train(overrides, instance)
    assert again["start"] == (
        "from scratch: the current adapter is not the one behind the served model (a blocking "
        "check after training failed, or the model was rolled back)"
    )
    assert not again["warm_start"] and again["warm_chain"] == 0

    serve_a_model_of(again["sha256"])  # that one passed: unchanged inputs skip training again
    result = materialize_assets(overrides, SELECTION, instance)
    assert result.success and not result.asset_materializations_for_node("lora_adapter")


def test_an_adapter_that_never_served_is_not_continued(
    tiny_model: Path, forge_env: Path, tmp_path: Path
):
    vault, overrides, instance = vault_to_grow(tiny_model, tmp_path)
    train(overrides, instance)
    # Nothing was deployed: a check after training stopped the adapter. New notes do not
    # continue it, they train from scratch.
    write_days(vault, dict(list(DAYS.items())[:2]))
    again = train(overrides, instance)
    assert again["start"].startswith("from scratch: the current adapter is not the one behind")
    assert not again["warm_start"]
