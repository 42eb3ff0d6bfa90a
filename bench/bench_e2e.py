"""forge_full on the sample vault with the default model, timed; training throughput beside it.

Usage: make bench   (runs this with every other benchmark)
Records: e2e.make_run_s, nightly.noop_ratio (a second run on the unchanged vault, which skips
training, export and deploy, over the first), train.tokens_per_s, train.s_per_step, and
machine.matmul_gflops measured in the same run, since these 2-core machines are noisy and figures
only compare within a run.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from forge_pipeline.cli.pipeline import EXECUTE_FORGE_FULL

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import fresh_forge_home, matmul_gflops  # noqa: E402
from results import record  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "make bench"


def run_forge_full(env: dict[str, str]) -> float:
    """Seconds for `dagster job execute ... -j forge_full`, as CI and `make run` call it."""
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), *EXECUTE_FORGE_FULL],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return round(time.perf_counter() - started, 1)


def main() -> None:
    """Run forge_full in a fresh FORGE_HOME (downloads cached) and record the figures."""
    home = ROOT / "bench" / "out" / "e2e-home"
    env = fresh_forge_home(home)
    subprocess.run([sys.executable, "-m", "forge_pipeline.cli", "prepare"], env=env, check=True)
    gflops_before = matmul_gflops()
    wall = run_forge_full(env)
    nightly = run_forge_full(env)  # the same vault again: a nightly run with nothing new
    metrics = json.loads((home / "artifacts" / "lora_adapter" / "metrics.json").read_text())
    record(
        "machine.matmul_gflops",
        round((gflops_before + matmul_gflops()) / 2, 1),
        "GFLOP/s",
        COMMAND,
        "fp32 1024x1024 torch.mm, mean of before and after the run",
    )
    record(
        "e2e.make_run_s",
        wall,
        "s",
        COMMAND,
        "dagster job execute forge_full, sample vault, default model, model already prepared",
    )
    record(
        "nightly.noop_ratio",
        round(nightly / wall, 3),
        "x",
        COMMAND,
        f"second forge_full on the unchanged vault {nightly} s / first {wall} s",
    )
    record(
        "train.tokens_per_s",
        metrics["tokens_per_s"],
        "tokens/s",
        COMMAND,
        f"SmolLM2-135M LoRA, {metrics['precision']}, {metrics['threads']} threads, "
        f"batch from the training plan, {metrics['steps']} steps",
    )
    record("train.s_per_step", round(metrics["train_seconds"] / metrics["steps"], 2), "s", COMMAND)
    record(
        "train.eval_loss_drop",
        round(metrics["base_eval_loss"] - metrics["tuned_eval_loss"], 4),
        "nats",
        COMMAND,
        f"base {metrics['base_eval_loss']} -> tuned {metrics['tuned_eval_loss']}",
    )


if __name__ == "__main__":
    main()
