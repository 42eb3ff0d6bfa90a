"""The CI entry points as a user types them: `dg launch --job forge_full`, then `dagster job
execute` on the unchanged vault (training, export and deploy skipped), then `forge status`;
the seed's `forge train` and `forge study PATH`.

Does not touch: the web UI (test_ui_browser.py), the default model.
"""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from forge_pipeline.lib.core.config import PROJECT_ROOT, env_name
from forge_pipeline_tests.helpers import tiny_overrides

BIN = Path(sys.executable).parent


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900
    )


def test_dg_launch_then_dagster_job_execute_skips_training_on_an_unchanged_vault(
    tiny_model: Path, forge_env: Path
):
    env = {**os.environ, **{env_name(k): v for k, v in tiny_overrides(tiny_model).items()}}
    first = run([str(BIN / "dg"), "launch", "--job", "forge_full"], env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = run(
        [str(BIN / "dagster"), "job", "execute", "-m", "forge_pipeline.definitions"]
        + ["-j", "forge_full"],
        env,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="forge_full"))
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2
        latest = instance.all_logs(runs[0].run_id)
    skipped = {
        e.step_key for e in latest if e.dagster_event_type == dg.DagsterEventType.STEP_SKIPPED
    }
    assert skipped == {"merged_model", "gguf_model", "model_evaluation", "deployed_model"}
    status = run([str(BIN / "forge"), "status"], env)
    assert status.returncode == 0, status.stdout
    assert f"last forge_full run: {runs[0].run_id} SUCCESS" in status.stdout
    assert "deployed model: v0001" in status.stdout


def test_forge_train_runs_the_chain_up_to_the_adapter(tiny_model: Path, forge_env: Path):
    env = {**os.environ, **{env_name(k): v for k, v in tiny_overrides(tiny_model).items()}}
    trained = run([str(BIN / "forge"), "train", "--resume"], env)
    assert trained.returncode == 0, trained.stdout[-3000:]
    assert "training succeeded" in trained.stdout
    assert "resumes from its newest checkpoint by itself" in trained.stdout
    assert (forge_env / "artifacts" / "lora_adapter" / "adapter_config.json").exists()
    assert not (forge_env / "artifacts" / "merged_model").exists()  # only up to the adapter


def test_forge_study_reports_on_a_dataset_file(tiny_model: Path, tmp_path: Path, forge_env: Path):
    rows = "\n".join(f"What did I learn in week {i}?,Rest matters (week {i})." for i in range(30))
    dataset = tmp_path / "qa.csv"
    dataset.write_text("prompt,response\n" + rows + "\n")
    env = {**os.environ, env_name("base_model"): str(tiny_model)}
    studied = run([str(BIN / "forge"), "study", str(dataset)], env)
    assert studied.returncode == 0, studied.stdout[-3000:]
    assert "the study succeeded" in studied.stdout
    report = (forge_env / "artifacts" / "dataset_study" / "study.md").read_text()
    sources = int(report.split("| source_files | ")[1].split(" |")[0])
    assert 25 <= sources <= 30  # one source per row (a short one may be dropped), no vault note
    assert "train_examples" in studied.stdout  # the report, printed
    missing = run([str(BIN / "forge"), "study", str(tmp_path / "none.csv")], dict(os.environ))
    assert missing.returncode == 1 and "No file or folder at" in missing.stdout
