"""forge_full at a real vault's size: about 1,000 examples, default settings, this machine.

Usage: make bench   (or: .venv/bin/python bench/bench_real_size.py; about half an hour)
Records e2e.real_size_s (the whole run, wall time) with the training plan's words beside it:
the steps the epochs ask for, the pace measured in the first steps and where the time budget
stopped the run.
"""

import sys
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_e2e import run_forge_full  # noqa: E402
from habit_vaults import write_vault  # noqa: E402
from machine import ROOT, fresh_forge_home, matmul_gflops  # noqa: E402
from results import record  # noqa: E402

from forge_pipeline.lib.core.jsonl import count_lines  # noqa: E402

COMMAND = "make bench"
OUT = ROOT / "bench" / "out"
STYLE, DAYS = "prompts", 1100  # an evening-review template: ~1,000 examples once curated


def main() -> None:
    """Write the vault, run forge_full on it once, and record the time beside the plan."""
    vault = OUT / "real-size-vault"
    write_vault(vault, STYLE, days=DAYS)
    home = OUT / "real-size-home"
    env = fresh_forge_home(home)
    gflops = matmul_gflops()
    wall = run_forge_full({**env, "FORGE_VAULT": str(vault)})
    curated = home / "artifacts" / "curated_dataset"
    train, val = count_lines(curated / "train.jsonl"), count_lines(curated / "val.jsonl")
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("lora_adapter"))
        assert event and event.asset_materialization
        plan = event.asset_materialization.metadata["run_length"].value
    record(
        "e2e.real_size_s",
        wall,
        "s",
        COMMAND,
        f"{DAYS} daily notes ({STYLE} style), {train} train / {val} val "
        f"examples, default settings and model; plan: {plan}; "
        f"{round((gflops + matmul_gflops()) / 2, 1)} GFLOP/s",
    )


if __name__ == "__main__":
    main()
