"""LoRA fine-tune of a causal LM on chat JSONL with PEFT + TRL; Dagster-free.

Standalone:  python -m forge_pipeline.training.train_lora --config train_config.json
Under Dagster the same module is launched through Pipes (PipesSubprocessClient) and reads
the config from the Pipes extras; progress and figures stream back to the run.
"""

import argparse
import errno
import json
import math
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from forge_pipeline.lib.training.healing import DISK_FULL_EXIT, OUT_OF_MEMORY_EXIT
from forge_pipeline.training.backend import LORA_TARGETS, choose_backend, load_unsloth, padding_free
from forge_pipeline.training.train_config import TrainConfig

FAILURE_TAIL_CHARS = 4000
MEMORY_POLL_S = 0.01

Reporter = Callable[[dict[str, Any]], None]


def train(cfg: TrainConfig, report: Reporter = lambda event: None) -> dict[str, Any]:
    """Evaluate the base, train the adapter, evaluate again; return the figures."""
    import torch

    # The stack is chosen first: Unsloth patches transformers and TRL, so it must load first.
    use_cuda = torch.cuda.is_available()
    backend = choose_backend(use_cuda)
    if backend == "unsloth":
        import unsloth  # noqa: F401
    from datasets import load_dataset
    from transformers import EarlyStoppingCallback, PrinterCallback

    from forge_pipeline.training.callbacks import Progress, TimeBudget
    from forge_pipeline.training.plain_loss import PlainLossSFTTrainer

    _injected_failure(cfg)
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

    # Checkpoints (and evals) only where a re-run can resume from them.
    resume = latest_checkpoint(Path(cfg.checkpoint_dir)) if cfg.checkpoint_dir else None
    evaluating = bool(cfg.checkpoint_dir)
    callbacks: list[Any] = [Progress(report)]
    if evaluating and cfg.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    budget = TimeBudget(cfg.time_budget_s, report) if cfg.time_budget_s > 0 else None
    if budget:
        callbacks.append(budget)
    trainer = PlainLossSFTTrainer(
        model=model,
        args=sft_args(
            cfg, backend, packed, template is not None, evaluating, len(data["train"]), use_cuda
        ),
        train_dataset=data["train"],
        eval_dataset=data["val"],
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    trainer.answer_logits_only = backend == "peft"
    trainer.remove_callback(PrinterCallback)  # progress goes through report() instead

    # A fresh LoRA adapter is a no-op (B = 0), so this is the base model's eval loss.
    base_eval_loss = float(trainer.evaluate()["eval_loss"])
    report({"event": "base_eval", "eval_loss": round(base_eval_loss, 4)})
    if resume:
        report({"event": "resume", "checkpoint": str(resume)})
    tokens_before = _tokens_seen(resume)  # before training: old checkpoints get rotated away
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    train_seconds = time.perf_counter() - started
    tuned_eval_loss = float(trainer.evaluate()["eval_loss"])

    trainer.model.save_pretrained(cfg.output_dir)
    tokenizer.chat_template = serving_template  # the exported model keeps the served template
    tokenizer.save_pretrained(cfg.output_dir)
    figures = {
        **run_metrics(trainer, cfg, tokens_before, train_seconds),
        "steps": int(result.global_step),
        "planned_steps": cfg.max_steps,
        "budget_steps": budget.cap if budget else None,
        "stopped_by_budget": bool(budget and budget.cap and result.global_step <= budget.cap),
        "stopped_early": int(result.global_step) < cfg.max_steps,
        "s_per_step": round(train_seconds / max(result.global_step - _step_of(resume), 1), 3),
        "train_examples": len(data["train"]),
        "val_examples": len(data["val"]),
        "loss_on": "assistant tokens" if template else "all tokens",
        "base_eval_loss": round(base_eval_loss, 4),
        "tuned_eval_loss": round(tuned_eval_loss, 4),
        "tuned_eval_perplexity": round(math.exp(min(tuned_eval_loss, 50)), 3),
        "resumed_from_step": _step_of(resume),
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


def load_model(cfg: TrainConfig, backend: str, packed: bool) -> tuple[Any, Any, Any]:
    """The base model and tokenizer, and the LoRA config PEFT wraps it in (None for Unsloth)."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local = Path(cfg.base_model)
    if local.is_dir() and not (local / "config.json").exists():
        # transformers would fail later with a puzzling tokenizer error instead.
        raise FileNotFoundError(f"{local} holds no config.json: not a Hugging Face model folder")
    half = torch.bfloat16 if cfg.precision == "bf16" else torch.float16
    if backend == "unsloth":
        model, tokenizer = load_unsloth(cfg, half if cfg.precision != "fp32" else torch.float32)
        return model, _with_pad_token(tokenizer), None  # it comes wrapped in its adapter
    quantization = None
    if cfg.load_in_4bit:
        from transformers import BitsAndBytesConfig

        quantization = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=half
        )
    model = AutoModelForCausalLM.from_pretrained(
        cfg.base_model,
        # fp16 trains with fp32 master weights: AMP cannot unscale fp16 gradients.
        dtype=torch.bfloat16 if cfg.precision == "bf16" else torch.float32,
        quantization_config=quantization,
        **({"attn_implementation": "flash_attention_2"} if packed else {}),
    )
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=0.0,  # dropout on every projection's input cost ~20% of a CPU step
        target_modules=LORA_TARGETS,
        task_type="CAUSAL_LM",
    )
    return model, _with_pad_token(AutoTokenizer.from_pretrained(cfg.base_model)), lora


def _with_pad_token(tokenizer: Any) -> Any:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def sft_args(
    cfg: TrainConfig,
    backend: str,
    packed: bool,
    answers_marked: bool,
    evaluating: bool,
    train_examples: int,
    use_cuda: bool,
) -> Any:
    """TRL's SFTConfig for this run: every choice from the config and the hardware."""
    from trl import SFTConfig

    interval = eval_interval(train_examples, cfg)
    return SFTConfig(
        output_dir=cfg.checkpoint_dir or str(Path(cfg.output_dir) / "checkpoints"),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        warmup_steps=min(2, cfg.max_steps),
        lr_scheduler_type="linear",
        max_length=cfg.max_length,
        # SFTConfig defaults to bf16 and gradient checkpointing even on CPU, where bf16 is
        # ~20x slower: precision comes from the hardware, never from library defaults.
        bf16=cfg.precision == "bf16",
        fp16=cfg.precision == "fp16",
        # Unsloth checkpoints in its own way, set on the model.
        gradient_checkpointing=cfg.gradient_checkpointing and backend == "peft",
        packing=packed,
        packing_strategy="bfd",
        use_cpu=not use_cuda,
        logging_steps=1,
        # The default filter logs a NaN step as loss 0.0; Forge must see it to heal it.
        logging_nan_inf_filter=False,
        assistant_only_loss=answers_marked,
        eval_strategy="steps" if evaluating else "no",
        eval_steps=interval,
        save_strategy="steps" if evaluating else "no",
        save_steps=interval,
        save_total_limit=2,
        load_best_model_at_end=evaluating,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        report_to=[],
        seed=cfg.seed,
        data_seed=cfg.seed,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


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


# ChatML as SmolLM2 and the test models write it, with the answer (and its end token) marked
# as `generation` so TRL can mask everything else out of the loss.
CHATML_TRAINING_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\n' }}{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def training_template(tokenizer: Any, messages: list[dict[str, str]]) -> str | None:
    """A template marking the answers that renders exactly like the model's own, if there is one."""
    own = tokenizer.chat_template or ""
    if "{% generation %}" in own:
        return own
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    marked = tokenizer.apply_chat_template(
        messages, tokenize=False, chat_template=CHATML_TRAINING_TEMPLATE
    )
    return CHATML_TRAINING_TEMPLATE if rendered == marked else None


def watch_memory(limit_mb: int, failure_file: str) -> None:
    """Stop the trainer, as the kernel's OOM killer would, once its resident memory passes
    limit_mb, so a plan too big for the machine is healed instead of pushing it into swap."""
    statm = Path("/proc/self/statm")
    if limit_mb <= 0 or not statm.exists():  # resident memory is read from Linux's /proc
        return
    page = os.sysconf("SC_PAGE_SIZE")

    def watch() -> None:
        while (resident_mb := int(statm.read_text().split()[1]) * page >> 20) <= limit_mb:
            time.sleep(MEMORY_POLL_S)
        message = (
            f"MemoryLimitExceeded: out of memory: the trainer's resident memory reached "
            f"{resident_mb} MB, over training.memory_limit_mb ({limit_mb} MB)"
        )
        print(message, file=sys.stderr, flush=True)
        if failure_file:
            Path(failure_file).write_text(message)
        os._exit(OUT_OF_MEMORY_EXIT)

    threading.Thread(target=watch, name="memory-limit", daemon=True).start()


def eval_interval(train_examples: int, cfg: TrainConfig) -> int:
    """Steps between evals and checkpoints: checkpoint_every, and at least one each epoch."""
    steps_per_epoch = math.ceil(train_examples / (cfg.batch_size * cfg.grad_accum))
    return max(1, min(cfg.checkpoint_every, steps_per_epoch))


def _injected_failure(cfg: TrainConfig) -> None:
    """FORGE_TRAIN_INJECT (tests only): oom:N or odd:N (no rule knows it) above batch N; bf16."""
    import torch

    inject = os.environ.get("FORGE_TRAIN_INJECT", "")
    if inject.startswith("oom:") and cfg.batch_size > int(inject.split(":")[1]):
        raise torch.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 2.00 GiB (injected by FORGE_TRAIN_INJECT)"
        )
    if inject.startswith("odd:") and cfg.batch_size > int(inject.split(":")[1]):
        raise RuntimeError("cuDNN frobnicator stalled in a grouped kernel (FORGE_TRAIN_INJECT)")
    if inject == "bf16" and cfg.precision == "bf16":
        raise RuntimeError("bf16 is not supported on this device (injected by FORGE_TRAIN_INJECT)")


def train_or_record_failure(cfg: TrainConfig, report: Reporter) -> dict[str, Any]:
    """train() in this process, under its memory limit, writing the traceback's tail to
    cfg.failure_file when it fails."""
    # Here, not in train(): the watch ends the whole process, so only the trainer's own may.
    watch_memory(cfg.memory_limit_mb, cfg.failure_file)
    try:
        return train(cfg, report)
    except BaseException:
        if cfg.failure_file:
            try:
                Path(cfg.failure_file).write_text(traceback.format_exc()[-FAILURE_TAIL_CHARS:])
            except OSError:
                pass  # a full disk: the exit status says so (exit_status)
        raise


def exit_status(error: BaseException) -> int:
    """The trainer's exit status for a failure: DISK_FULL_EXIT when a disk filled up, else 1."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return DISK_FULL_EXIT
        seen = seen.__cause__ or seen.__context__
    return 1


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint-N under folder (N compared as a number), if any."""
    if not folder.is_dir():
        return None
    complete = [
        path
        for path in folder.glob("checkpoint-*")
        if path.name.removeprefix("checkpoint-").isdigit()
        and (path / "trainer_state.json").exists()
        and (path / "adapter_model.safetensors").exists()
    ]
    return max(complete, key=_step_of, default=None)


def _step_of(checkpoint: Path | None) -> int:
    return int(checkpoint.name.removeprefix("checkpoint-")) if checkpoint else 0


def _tokens_seen(checkpoint: Path | None) -> int:
    if checkpoint is None:
        return 0
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return int(state.get("num_input_tokens_seen", 0))


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
