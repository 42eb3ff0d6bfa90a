"""A training plan from the hardware and the data; every `auto` in forge.yaml is filled from it."""

import math
from dataclasses import dataclass, field
from typing import Any

from forge_pipeline.lib.core.config import Training
from forge_pipeline.lib.training.hardware import Hardware

MIN_LENGTH = 64
MIN_CHECKPOINT_EVERY = 5  # checkpoint_every auto: a tenth of the run, but not every step
# (VRAM below, GB) -> per-device batch on a GPU; effective batch is kept near EFFECTIVE_BATCH.
GPU_BATCHES = [(8, 2), (16, 4), (32, 8), (float("inf"), 16)]
EFFECTIVE_BATCH = 16
CPU_BATCH = 4
# (VRAM below, GB) -> the model worth fine-tuning on such a card (advice: Forge downloads nothing).
CPU_MODEL = "SmolLM2-135M-Instruct (default)"
MODELS = [
    (8, "SmolLM2-360M-Instruct"),
    (16, "Qwen2.5-1.5B-Instruct (4-bit)"),
    (32, "Qwen2.5-3B-Instruct"),
    (float("inf"), "Qwen2.5-7B-Instruct"),
]


@dataclass
class TrainingPlan:
    """The knobs training will use, where each came from, and the model this machine suits."""

    batch_size: int
    grad_accum: int
    max_length: int
    precision: str
    gradient_checkpointing: bool
    load_in_4bit: bool
    recommended_model: str
    source: dict[str, str] = field(default_factory=dict)

    def knobs(self) -> dict[str, Any]:
        """The fields the trainer takes."""
        return {
            "batch_size": self.batch_size,
            "grad_accum": self.grad_accum,
            "max_length": self.max_length,
            "precision": self.precision,
            "gradient_checkpointing": self.gradient_checkpointing,
            "load_in_4bit": self.load_in_4bit,
        }

    def rows(self) -> list[tuple[str, str, str]]:
        """(knob, value, from) rows for a table."""
        return [(k, str(v), self.source.get(k, "plan")) for k, v in self.knobs().items()]


def make_plan(hardware: Hardware, training: Training, tokens_p95: int | None) -> TrainingPlan:
    """Fill every `auto` knob of `training` from the hardware and the curated set's lengths."""
    on_gpu = hardware.gpu_count > 0
    vram = hardware.vram_total_gb
    suggested: dict[str, Any] = {
        "batch_size": _pick(GPU_BATCHES, vram) if on_gpu else CPU_BATCH,
        "max_length": _length_for(tokens_p95),
        "precision": hardware.precision,
        "gradient_checkpointing": on_gpu and vram < 8,
        "load_in_4bit": on_gpu and vram < 12,
    }
    suggested["grad_accum"] = max(1, EFFECTIVE_BATCH // suggested["batch_size"]) if on_gpu else 1
    chosen, source = {}, {}
    for name, value in suggested.items():
        configured = getattr(training, name)
        chosen[name] = value if configured == "auto" else configured
        source[name] = "plan" if configured == "auto" else "forge.yaml"
    if not on_gpu:
        chosen["load_in_4bit"] = False  # bitsandbytes quantizes on CUDA only
    return TrainingPlan(
        **chosen, recommended_model=_pick(MODELS, vram) if on_gpu else CPU_MODEL, source=source
    )


def _pick(table: list[tuple[float, Any]], vram: float) -> Any:
    return next(value for below, value in table if vram < below)


def _length_for(tokens_p95: int | None) -> int:
    """The 95th percentile of conversation lengths, rounded up to a power of two."""
    if not tokens_p95:
        return 256
    length = MIN_LENGTH
    while length < tokens_p95:
        length *= 2
    return length


@dataclass
class RunLength:
    """How many steps training takes, how often it checkpoints, and why, in words."""

    steps: int
    checkpoint_every: int
    time_budget_s: float
    reason: str

    def outcome(self, s_per_step: float | None, budget_steps: int | None) -> str:
        """The plan beside what the run measured: its pace, and where the budget stopped it."""
        if not s_per_step:
            return self.reason
        took = _minutes(self.steps * s_per_step)
        said = f"{self.reason}; measured {s_per_step:.2f} s/step ≈ {took} here"
        if budget_steps is not None:
            return f"{said}; budget {_minutes(self.time_budget_s)} → {budget_steps} steps"
        return said


def run_length(training: Training, train_examples: int, effective_batch: int) -> RunLength:
    """Steps from epochs and the data (max_steps auto) or forge.yaml, within the time budget."""
    budget = training.time_budget_min * 60
    if training.max_steps == "auto":
        steps = max(1, math.ceil(training.epochs * train_examples / effective_batch))
        reason = (
            f"{train_examples} examples × {training.epochs:g} epochs / batch {effective_batch} "
            f"= {steps} steps"
        )
    else:
        steps = training.max_steps
        epochs = steps * effective_batch / max(train_examples, 1)
        reason = f"max_steps {steps} from forge.yaml ({epochs:.1f} epochs of {train_examples})"
    if budget:
        reason += f"; time budget {_minutes(budget)}"
    every = training.checkpoint_every
    if every == "auto":
        every = max(MIN_CHECKPOINT_EVERY, steps // 10)
    return RunLength(steps, every, budget, reason)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
