"""A training run killed mid-way resumes from its newest checkpoint on re-materialization.

Does not touch: export and later stages.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from forge_pipeline.lib.core.config import env_name
from forge_pipeline.training.checkpoints import latest_checkpoint
from forge_pipeline_tests.helpers import UPSTREAM, tiny_overrides

DAGSTER = str(Path(sys.executable).parent / "dagster")


def dagster_materialize(selection: str, env: dict[str, str]) -> subprocess.Popen:
    """`dagster asset materialize` as a user or CI runs it, in its own process group."""
    return subprocess.Popen(
        [
            DAGSTER,
            "asset",
            "materialize",
            "-m",
            "forge_pipeline.definitions",
            "--select",
            selection,
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def newest_step(checkpoints: Path) -> int:
    """The step of the newest complete checkpoint of any plan, 0 for none."""
    found = [latest_checkpoint(folder) for folder in checkpoints.glob("*") if folder.is_dir()]
    return max((int(c.name.split("-")[1]) for c in found if c), default=0)


def test_killed_training_resumes_from_the_newest_checkpoint(tiny_model: Path, forge_env: Path):
    overrides = tiny_overrides(
        tiny_model,
        **{
            "training.max_steps": "60",
            "training.checkpoint_every": "5",
            "training.early_stopping_patience": "0",
        },
    )
    env = {**os.environ, **{env_name(key): value for key, value in overrides.items()}}
    checkpoints = forge_env / "artifacts" / "lora_adapter-checkpoints"
    assert dagster_materialize(",".join(UPSTREAM), env).wait(timeout=300) == 0

    # The whole run is killed (a crash, a reboot, Ctrl-C twice), not only the trainer.
    run = dagster_materialize("lora_adapter", env)
    deadline = time.monotonic() + 300
    while newest_step(checkpoints) < 10 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be killed"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    killed_at = newest_step(checkpoints)
    assert killed_at >= 10

    assert dagster_materialize("lora_adapter", env).wait(timeout=300) == 0
    instance = dg.DagsterInstance.get()
    event = instance.get_latest_materialization_event(dg.AssetKey("lora_adapter"))
    meta = {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}
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
