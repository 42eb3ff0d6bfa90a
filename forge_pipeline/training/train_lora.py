"""LoRA fine-tune of a causal LM on chat JSONL with PEFT + TRL; Dagster-free.

Standalone:  python -m forge_pipeline.training.train_lora --config train_config.json
Under Dagster the same module is launched through Pipes (PipesSubprocessClient) and reads
the config from the Pipes extras; progress and figures stream back to the run.
"""

import argparse
import json
import math
import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from forge_pipeline.training.backend import choose_backend, load_model, padding_free
from forge_pipeline.training.checkpoints import latest_checkpoint, step_of, tokens_seen
from forge_pipeline.training.failures import (
    exit_status,
    inject_failure,
    watch_memory,
    write_failure_tail,
)
from forge_pipeline.training.sft import sft_args, training_template
from forge_pipeline.training.train_config import TrainConfig

Reporter = Callable[[dict[str, Any]], None]


def train(cfg: TrainConfig, report: Reporter = lambda event: None) -> dict[str, Any]:
    """Evaluate the base, train the adapter, evaluate again; return the figures."""
    import torch

    # The stack is chosen first: Unsloth patches transformers and TRL, so it must load first.
    use_cuda = torch.cuda.is_available()
    backend = choose_backend(use_cuda, warm=bool(cfg.init_adapter))
    if backend == "unsloth":
        import unsloth  # noqa: F401  # pyright: ignore[reportMissingImports]  # CUDA only
    from datasets import load_dataset

    inject_failure(cfg)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    packed = padding_free(use_cuda)
    model, tokenizer, peft_config = load_model(cfg, backend, packed)
    data = load_dataset("json", data_files={"train": cfg.train_file, "val": cfg.val_file})
    data = data.select_columns(["messages"])

    # Loss on the answers only, through a template that marks them (when one renders alike).
    serving_template = tokenizer.chat_template
    template = training_template(tokenizer, data["train"][0]["messages"])
    if template:
        tokenizer.chat_template = template

    resume = latest_checkpoint(Path(cfg.checkpoint_dir)) if cfg.checkpoint_dir else None
    args = sft_args(cfg, backend, packed, template is not None, len(data["train"]), use_cuda)
    trainer, budget = build_trainer(cfg, report, args, model, tokenizer, peft_config, data)
    trainer.answer_logits_only = backend == "peft"

    base_eval_loss, start_eval_loss = start_losses(trainer, warm=bool(cfg.init_adapter))
    report({"event": "base_eval", "eval_loss": round(base_eval_loss, 4)})
    if resume:
        report({"event": "resume", "checkpoint": str(resume)})
    tokens_before = tokens_seen(resume)  # before training: old checkpoints get rotated away
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    train_seconds = time.perf_counter() - started
    tuned_eval_loss = float(trainer.evaluate()["eval_loss"])

    trainer.model.save_pretrained(cfg.output_dir)
    tokenizer.chat_template = serving_template  # the exported model keeps the served template
    tokenizer.save_pretrained(cfg.output_dir)
    figures = {
        **run_metrics(trainer, cfg, tokens_before, train_seconds),
        **run_length(cfg, int(result.global_step), budget, step_of(resume), train_seconds),
        "train_examples": len(data["train"]),
        "val_examples": len(data["val"]),
        "loss_on": "assistant tokens" if template else "all tokens",
        "base_eval_loss": round(base_eval_loss, 4),
        "start_eval_loss": round(start_eval_loss, 4),
        "warm_start": bool(cfg.init_adapter),
        "tuned_eval_loss": round(tuned_eval_loss, 4),
        "tuned_eval_perplexity": round(math.exp(min(tuned_eval_loss, 50)), 3),
        "device": "cuda" if use_cuda else "cpu",
        "backend": backend,
        "padding_free": packed,
        "threads": torch.get_num_threads(),
    }
    Path(cfg.output_dir, "metrics.json").write_text(json.dumps(figures, indent=2))
    Path(cfg.output_dir, "train_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    if cfg.checkpoint_dir:
        shutil.rmtree(cfg.checkpoint_dir, ignore_errors=True)  # the adapter is saved
    return figures


def start_losses(trainer: Any, warm: bool) -> tuple[float, float]:
    """The base model's eval loss, and the loss training starts from (the adapter continued)."""
    if not warm:
        # A fresh LoRA adapter is a no-op (B = 0), so this is the base model's eval loss.
        base = float(trainer.evaluate()["eval_loss"])
        return base, base
    with trainer.model.disable_adapter():
        base = float(trainer.evaluate()["eval_loss"])
    return base, float(trainer.evaluate()["eval_loss"])


def build_trainer(
    cfg: TrainConfig, report: Reporter, args: Any, model: Any, tokenizer: Any, peft: Any, data: Any
) -> tuple[Any, Any]:
    """The SFT trainer with Forge's callbacks, and the time budget among them (if any)."""
    from transformers import EarlyStoppingCallback, PrinterCallback

    from forge_pipeline.training.callbacks import Progress, TimeBudget
    from forge_pipeline.training.plain_loss import PlainLossSFTTrainer

    callbacks: list[Any] = [Progress(report)]
    if args.eval_strategy != "no" and cfg.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    budget = TimeBudget(cfg.time_budget_s, report) if cfg.time_budget_s > 0 else None
    if budget:
        callbacks.append(budget)
    trainer = PlainLossSFTTrainer(
        model=model,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["val"],
        processing_class=tokenizer,
        peft_config=peft,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through report() instead
    return trainer, budget


def run_metrics(trainer: Any, cfg: TrainConfig, tokens_before: int, seconds: float) -> dict:
    """Losses, throughput and the knobs the run used, from the trainer's state."""
    history = trainer.state.log_history
    losses = [log["loss"] for log in history if "loss" in log]
    evals = [(log["step"], log["eval_loss"]) for log in history if "eval_loss" in log]
    tokens_now = int(trainer.state.num_input_tokens_seen) - tokens_before
    return {
        "first_train_loss": round(float(losses[0]), 4),
        "last_train_loss": round(float(losses[-1]), 4),
        "loss_curve": [round(float(x), 4) for x in losses],
        "eval_curve": [[int(step), round(float(loss), 4)] for step, loss in evals],
        "train_seconds": round(seconds, 1),
        "tokens_seen": int(trainer.state.num_input_tokens_seen),
        "tokens_per_s": round(tokens_now / seconds, 1),
        "labelled_tokens_trained": trainer.labelled_tokens,
        "precision": cfg.precision,
        "batch_size": cfg.batch_size,
        "grad_accum": cfg.grad_accum,
    }


def run_length(
    cfg: TrainConfig, steps: int, budget: Any, resumed_from: int, seconds: float
) -> dict[str, Any]:
    """How long the run was against its plan and its time budget."""
    return {
        "steps": steps,
        "planned_steps": cfg.max_steps,
        "budget_steps": budget.cap if budget else None,
        "stopped_by_budget": bool(budget and budget.cap and steps <= budget.cap),
        "stopped_early": steps < cfg.max_steps,
        "s_per_step": round(seconds / max(steps - resumed_from, 1), 3),
        "resumed_from_step": resumed_from,
    }


def train_or_record_failure(cfg: TrainConfig, report: Reporter) -> dict[str, Any]:
    """train() in this process, under its memory limit, writing the traceback's tail to
    cfg.failure_file when it fails."""
    # Here, not in train(): the watch ends the whole process, so only the trainer's own may.
    watch_memory(cfg.memory_limit_mb, cfg.failure_file)
    try:
        return train(cfg, report)
    except BaseException:
        write_failure_tail(cfg.failure_file)
        raise


def _run_under_pipes() -> None:
    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        cfg = TrainConfig(**pipes.get_extra("train_config"))

        def report(event: dict[str, Any]) -> None:
            pipes.log.info(json.dumps(event))
            pipes.report_custom_message(event)

        metrics = train_or_record_failure(cfg, report)
        pipes.report_asset_materialization(
            metadata={k: v for k, v in metrics.items() if k != "loss_curve"}
        )


def main() -> None:
    """Entry point: Pipes when launched by Dagster, else --config FILE."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub is reachable: never wait for one
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR

    if DAGSTER_PIPES_CONTEXT_ENV_VAR in os.environ:
        _exit_on_failure(_run_under_pipes)
        return
    parser = argparse.ArgumentParser(description="LoRA fine-tune of a causal LM on chat JSONL.")
    parser.add_argument("--config", required=True, help="JSON file with TrainConfig fields")
    cfg = TrainConfig(**json.loads(Path(parser.parse_args().config).read_text()))
    metrics = _exit_on_failure(
        lambda: train_or_record_failure(cfg, lambda event: print(json.dumps(event), flush=True))
    )
    print(json.dumps(metrics, indent=2))


def _exit_on_failure(run: Callable[[], Any]) -> Any:
    """run(); on an error, print its traceback and exit with exit_status."""
    try:
        return run()
    except Exception as exc:
        traceback.print_exc()
        raise SystemExit(exit_status(exc)) from None


if __name__ == "__main__":
    main()
