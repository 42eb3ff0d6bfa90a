"""A training run killed mid-way resumes from its newest checkpoint on re-materialization.

Does not touch: export and later stages.
"""

import os
import signal
import threading
import time
from pathlib import Path

import dagster as dg

from forge_pipeline.definitions import defs
from forge_pipeline.defs.resources import ForgeResource, HardwareResource, ModelServerResource
from forge_pipeline.training.train_lora import latest_checkpoint
from forge_pipeline_tests.conftest import tiny_overrides

UPSTREAM = ["vault_notes", "reflection_examples", "dataset_examples", "curated_dataset"]


def trainer_pids() -> list[int]:
    """Processes running the trainer module."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"forge_pipeline.training.train_lora" in (
                (entry / "cmdline").read_bytes()
            ):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def kill_trainer_after_checkpoint(checkpoints: Path, step: int, done: threading.Event) -> None:
    """SIGKILL the trainer once a complete checkpoint at or past `step` exists."""
    while not done.is_set():
        found = next(iter(checkpoints.glob("*")), None)
        newest = latest_checkpoint(found) if found else None
        if newest and int(newest.name.split("-")[1]) >= step:
            for pid in trainer_pids():
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)


def materialize(selection: list[str], overrides: dict, instance) -> dg.ExecuteInProcessResult:
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    return dg.materialize(
        assets,
        selection=selection,
        instance=instance,
        resources={
            "forge": ForgeResource(overrides=overrides),
            "hardware": HardwareResource(),
            "pipes_subprocess_client": dg.PipesSubprocessClient(),
            "model_server": ModelServerResource(url="http://127.0.0.1:9"),
        },
        raise_on_error=False,
    )


def test_killed_training_resumes_from_the_newest_checkpoint(tiny_model: Path, forge_env: Path):
    overrides = tiny_overrides(
        tiny_model, **{"training.max_steps": "60", "training.checkpoint_every": "5"}
    )
    checkpoints = forge_env / "artifacts" / "lora_adapter-checkpoints"
    with dg.instance_for_test() as instance:
        assert materialize(UPSTREAM, overrides, instance).success
        done = threading.Event()
        killer = threading.Thread(
            target=kill_trainer_after_checkpoint, args=(checkpoints, 10, done), daemon=True
        )
        killer.start()
        killed = materialize(["lora_adapter"], overrides, instance)
        done.set()
        assert not killed.success, "the trainer finished before it could be killed"
        kept = latest_checkpoint(next(checkpoints.glob("*")))
        assert kept is not None and int(kept.name.split("-")[1]) >= 10

        resumed = materialize(["lora_adapter"], overrides, instance)
        assert resumed.success
        event = resumed.asset_materializations_for_node("lora_adapter")[0]
        meta = {k: getattr(v, "value", v) for k, v in event.metadata.items()}
    assert meta["resumed_from_step"] >= 10 and meta["steps"] == 60
    assert meta["tuned_eval_loss"] < meta["base_eval_loss"]
    assert not any(checkpoints.glob("*/checkpoint-*")), "checkpoints are removed once saved"


def test_newest_complete_checkpoint_is_chosen_by_number(tmp_path: Path):
    for step, complete in [(9, True), (10, True), (100, False), (20, True)]:
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if complete:
            (folder / "trainer_state.json").write_text("{}")
            (folder / "adapter_model.safetensors").write_bytes(b"")
    (tmp_path / "checkpoint-final").mkdir()
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-20"
    assert latest_checkpoint(tmp_path / "none") is None
