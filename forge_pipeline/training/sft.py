"""How TRL is set up for a run: its SFTConfig, and a chat template that marks the answers."""

import math
from pathlib import Path
from typing import Any

from forge_pipeline.training.train_config import TrainConfig

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


def sft_args(
    cfg: TrainConfig,
    backend: str,
    packed: bool,
    answers_marked: bool,
    train_examples: int,
    use_cuda: bool,
) -> Any:
    """TRL's SFTConfig for this run: every choice from the config and the hardware."""
    from trl.trainer.sft_config import SFTConfig

    interval = eval_interval(train_examples, cfg)
    evaluating = bool(cfg.checkpoint_dir)  # only where a re-run can resume from a checkpoint
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
        # Packed runs have no padding to save; elsewhere a batch pads to its longest example.
        train_sampling_strategy="group_by_length"
        if cfg.length_grouped and not packed
        else "random",
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


def eval_interval(train_examples: int, cfg: TrainConfig) -> int:
    """Steps between evals and checkpoints: checkpoint_every, and at least one each epoch."""
    steps_per_epoch = math.ceil(train_examples / (cfg.batch_size * cfg.grad_accum))
    return max(1, min(cfg.checkpoint_every, steps_per_epoch))
