"""The one configuration of a training run: what the trainer reads, whoever launches it."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forge_pipeline.lib.core.config import Settings
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.training.plan import RunLength


@dataclass
class TrainConfig:
    """Everything one training run needs; built from the settings and the plan by the caller."""

    base_model: str  # local Hugging Face folder or cached Hub id
    train_file: str  # chat JSONL: one {"messages": [...]} per line
    val_file: str  # same format, held out by source file
    output_dir: str  # the adapter and metrics.json are written here
    max_steps: int  # optimizer steps (the plan sizes them from epochs and the data)
    batch_size: int  # examples per forward pass
    grad_accum: int  # forward passes per optimizer step
    learning_rate: float  # peak LR, linear decay after 2 warmup steps
    lora_r: int  # LoRA rank
    lora_alpha: int  # LoRA scaling numerator (scale = alpha / r)
    max_length: int  # tokens per example; longer ones are truncated
    precision: str  # fp32 | fp16 | bf16, chosen from the hardware, never a library default
    threads: int = 0  # torch CPU threads; 0 = all cores
    memory_limit_mb: int = 0  # stop as out of memory past this resident size (Linux); 0 = none
    seed: int = 42
    checkpoint_dir: str = ""  # checkpoints every checkpoint_every steps; a re-run resumes here
    checkpoint_every: int = 10  # steps between checkpoints and evals (at least one an epoch)
    gradient_checkpointing: bool = False  # less memory, ~30% slower
    length_grouped: bool = True  # batches of similar length: less padding computed
    load_in_4bit: bool = False  # QLoRA: the base in 4-bit through bitsandbytes (CUDA only)
    early_stopping_patience: int = 3  # evals (one per checkpoint) without improvement; 0 = off
    time_budget_s: float = 0  # stop at the step the measured pace says fits; 0 = no budget
    failure_file: str = ""  # on failure, the traceback's tail is written here for diagnosis
    init_adapter: str = ""  # a warm start: continue this adapter instead of a fresh one


def train_config(
    settings: Settings,
    base_model: str,
    layout: Layout,
    out: Path,
    length: RunLength,
    knobs: dict[str, Any],
    checkpoint_dir: Path | None = None,
    failure_file: Path | None = None,
) -> TrainConfig:
    """The trainer's one config: the settings, the run's length, and the plan's (healed) knobs."""
    training = settings.training
    return TrainConfig(
        base_model=base_model,
        train_file=str(layout.train),
        val_file=str(layout.val),
        output_dir=str(out),
        max_steps=length.steps,
        checkpoint_every=length.checkpoint_every,
        time_budget_s=length.time_budget_s,
        lora_r=training.lora_r,
        lora_alpha=training.lora_alpha,
        threads=training.threads,
        memory_limit_mb=training.memory_limit_mb,
        seed=training.seed,
        early_stopping_patience=training.early_stopping_patience,
        checkpoint_dir=str(checkpoint_dir or ""),
        failure_file=str(failure_file or ""),
        **knobs,
    )
