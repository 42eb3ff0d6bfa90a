"""A nightly run after 2% new notes: warm-started from the current adapter, and retrained in full.

Usage: make bench   (after bench_e2e.py, whose trained FORGE_HOME both runs start from a copy of)
Records nightly.warm_ratio (forge_full wall time, warm over full retrain) and
nightly.warm_val_loss_ratio (warm over full retrain val loss, the same val set), side by side.
"""

import json
import math
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_e2e import run_forge_full  # noqa: E402
from machine import ROOT, fresh_forge_home, matmul_gflops  # noqa: E402
from results import record  # noqa: E402

COMMAND = "make bench"
OUT = ROOT / "bench" / "out"
TRAINED = OUT / "e2e-home"
NEW_SHARE = 0.02
# New days, written in the sample vault's daily-note habit (in this project's own words).
NEW_DAYS = [
    "I missed the early train and, for once, I did not spiral about it. I sat on the platform "
    "and read, and I noticed that the day went on perfectly well without my plan.",
    "I told my manager that the deadline was not realistic. My voice shook, but I am glad I "
    "said it now rather than apologising in three weeks.",
    "I repotted the fig tree and realized I only garden when I am anxious. It calms me more "
    "than any app ever has, so maybe I should stop waiting for anxiety to start.",
    "I called an old friend I had been avoiding. I expected awkwardness, and instead we "
    "laughed for an hour. I keep overestimating how much people hold against me.",
    "I ran in the rain and enjoyed it. I learned that the weather decides less about my mood "
    "than the story I tell myself about the weather.",
]


def grown_vault(target: Path) -> int:
    """A copy of the sample vault with 2% more daily notes; how many were added."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "vault", target)
    count = math.ceil(NEW_SHARE * sum(1 for _ in target.rglob("*.md")))
    for day, text in enumerate(NEW_DAYS[:count], start=1):
        note = target / "Daily" / f"2026-08-{day:02d}.md"
        note.write_text(f"---\ndate: 2026-08-{day:02d}\ntags: [daily]\n---\n\n## Journal\n{text}\n")
    return count


def nightly(mode: str, vault: Path, extra: dict[str, str]) -> tuple[float, dict]:
    """forge_full on the grown vault in a copy of the trained home; wall seconds and metrics."""
    home = OUT / f"nightly-{mode}-home"
    env = fresh_forge_home(home)
    shutil.rmtree(home)
    shutil.copytree(TRAINED, home, symlinks=True)
    wall = run_forge_full({**env, "FORGE_VAULT": str(vault), **extra})
    return wall, json.loads((home / "artifacts" / "lora_adapter" / "metrics.json").read_text())


def main() -> None:
    """Run the warm nightly and the full retrain from the same state, and record both ratios."""
    if not (TRAINED / "artifacts" / "lora_adapter" / "trained_on.json").exists():
        raise SystemExit(f"No adapter with a training record in {TRAINED}; run bench_e2e.py first.")
    added = grown_vault(OUT / "nightly-vault")
    gflops = matmul_gflops()
    warm_s, warm = nightly("warm", OUT / "nightly-vault", {})
    full_s, full = nightly("full", OUT / "nightly-vault", {"FORGE_TRAINING_WARM_START_LIMIT": "0"})
    if not warm["warm_start"]:
        raise SystemExit("The warm nightly trained from scratch: see its lora_adapter metadata.")
    note = (
        f"{added} new daily notes on the sample vault, default model; forge_full warm "
        f"{warm_s} s ({warm['steps']} steps, {warm['train_seconds']} s training) / full "
        f"{full_s} s ({full['steps']} steps, {full['train_seconds']} s); "
        f"{round((gflops + matmul_gflops()) / 2, 1)} GFLOP/s"
    )
    record("nightly.warm_ratio", round(warm_s / full_s, 3), "x", COMMAND, note)
    record(
        "nightly.warm_val_loss_ratio",
        round(warm["tuned_eval_loss"] / full["tuned_eval_loss"], 4),
        "x",
        COMMAND,
        f"val loss warm {warm['tuned_eval_loss']} (from {warm['start_eval_loss']}) / full "
        f"{full['tuned_eval_loss']}; same val set",
    )


if __name__ == "__main__":
    main()
