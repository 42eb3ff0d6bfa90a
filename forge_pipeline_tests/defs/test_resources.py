"""ForgeResource: the settings a run resolved first are the ones every later step reads.

Does not touch: models, the vault's notes.
"""

from pathlib import Path

import dagster as dg
import pytest

from forge_pipeline.defs.resources import KEEP_RUN_SETTINGS, run_settings
from forge_pipeline_tests.helpers import materialize_assets, metadata


def test_a_run_keeps_the_settings_its_first_step_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    snapshot = tmp_path / "forge-settings" / "run-1.json"
    first = run_settings(snapshot, {"training.lora_r": "8"})
    monkeypatch.setenv("FORGE_TRAINING_LORA_R", "32")  # forge.yaml edited during the run
    later = run_settings(snapshot, {"training.lora_r": "8"})
    assert first.training.lora_r == later.training.lora_r == 8
    assert later == first
    assert run_settings(tmp_path / "forge-settings" / "run-2.json", {}).training.lora_r == 32


def test_old_snapshots_are_pruned(tmp_path: Path):
    folder = tmp_path / "forge-settings"
    for number in range(KEEP_RUN_SETTINGS + 5):
        run_settings(folder / f"run-{number}.json", {})
    assert len(list(folder.glob("*.json"))) == KEEP_RUN_SETTINGS


def test_every_step_of_a_run_sees_one_snapshot(forge_env: Path):
    with dg.DagsterInstance.get() as instance:  # the instance in DAGSTER_HOME
        result = materialize_assets({}, ["vault_notes", "reflection_examples"], instance)
    assert result.success and metadata(result, "reflection_examples")["examples"] > 0
    snapshots = list((forge_env / "dagster").rglob("forge-settings/*.json"))
    assert [s.stem for s in snapshots] == [result.run_id]
