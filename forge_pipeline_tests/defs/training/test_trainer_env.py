"""What the local trainer process really starts with: no secret of the Dagster process.

Does not touch: a model (a stand-in trainer module reports its own environment).
"""

import json
from pathlib import Path

import dagster as dg
import pytest

from forge_pipeline.defs.training import launcher
from forge_pipeline.defs.training.launcher import SECRET_ENVS, TrainerLauncher
from forge_pipeline.lib.core.config import load_settings
from forge_pipeline.lib.training.hardware import cpu_only


def test_no_secret_reaches_the_trainer_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in SECRET_ENVS:
        monkeypatch.setenv(name, f"secret-{name}")
    monkeypatch.setattr(launcher, "TRAINER_MODULE", "forge_pipeline_tests.training.env_probe")
    report = tmp_path / "env.json"

    @dg.asset
    def probe(context: dg.AssetExecutionContext, trainer: TrainerLauncher) -> dg.MaterializeResult:
        trainer.run(context, load_settings(), cpu_only(), {"output_dir": str(report)})
        return dg.MaterializeResult()

    assert dg.materialize([probe], resources={"trainer": TrainerLauncher()}).success
    seen = json.loads(report.read_text())
    assert seen["all"] > 5  # the rest of the environment still arrives
    assert seen["secrets"] == []
