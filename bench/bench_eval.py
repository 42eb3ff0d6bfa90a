"""model_evaluation alone on the trained sample-vault run that bench_e2e.py leaves behind.

Usage: make bench   (after bench_e2e.py; or: .venv/bin/python bench/bench_eval.py)
Records: eval.voice_delta_tuned / _base (Burrows' Delta to the person's held-out answers; lower
is closer), eval.voice_char3_tuned / _base (character 3-gram similarity; higher is closer),
eval.content_similarity_ratio (tuned over base, by sentence embeddings), eval.stop_rate_tuned /
_base, eval.verbatim_share and eval.seconds (the evaluation's wall time, base GGUF cached,
no answers kept from an earlier run).
"""

import sys
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import ROOT  # noqa: E402
from results import record  # noqa: E402

from forge_pipeline.defs.evaluation.assets import model_evaluation  # noqa: E402
from forge_pipeline.defs.resources import ForgeResource  # noqa: E402

COMMAND = "make bench"
HOME = ROOT / "bench" / "out" / "e2e-home"
FIGURES = [
    ("voice_delta_tuned", "delta"),
    ("voice_delta_base", "delta"),
    ("voice_char3_tuned", "cosine"),
    ("voice_char3_base", "cosine"),
    ("content_similarity_ratio", "x"),
    ("stop_rate_tuned", "share"),
    ("stop_rate_base", "share"),
    ("verbatim_share", "share"),
]


def main() -> None:
    """Evaluate the GGUF bench_e2e.py trained, and record its figures."""
    if not (HOME / "artifacts" / "gguf_model").is_dir():
        raise SystemExit(f"No trained run in {HOME}; run bench/bench_e2e.py first.")
    cache = ROOT / ".forge" / "cache"  # where bench_e2e.py prepared the models
    resources = {"forge": ForgeResource(overrides={"home": str(HOME), "cache_dir": str(cache)})}
    # Every model answers anew, as on a first run: not from the answers that run kept.
    (HOME / "artifacts" / "model_evaluation" / "answers.json").unlink(missing_ok=True)
    result = dg.materialize([model_evaluation], resources=resources, raise_on_error=False)
    meta = {
        k: v.value
        for k, v in result.asset_materializations_for_node("model_evaluation")[0].metadata.items()
    }
    note = (
        f"sample vault, default model and settings, {meta['models']} each giving "
        f"{meta['answers_per_model']} answers to the {meta['distinct_questions']} val questions "
        f"(asked in rounds); {meta['recall_probes']} recall probes"
    )
    for name, unit in FIGURES:
        record(f"eval.{name}", meta[name], unit, COMMAND, note)
    record("eval.seconds", meta["eval_seconds"], "s", COMMAND, note + ", base GGUF cached")


if __name__ == "__main__":
    main()
