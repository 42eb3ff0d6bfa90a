"""The trainer's chat template (loss on the answers only, served template unchanged), its loss
with the LM head on the answers alone, its evaluation interval and its choice of stack.

Does not touch: Dagster.
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, Trainer

from forge_pipeline.training import backend
from forge_pipeline.training.backend import choose_backend, padding_free
from forge_pipeline.training.callbacks import MEASURE_STEPS, TimeBudget
from forge_pipeline.training.plain_loss import PlainLossSFTTrainer
from forge_pipeline.training.sft import CHATML_TRAINING_TEMPLATE, eval_interval, training_template
from forge_pipeline.training.train_config import TrainConfig
from forge_pipeline.training.train_lora import train

CONFIG = TrainConfig(
    base_model="m",
    train_file="t",
    val_file="v",
    output_dir="o",
    max_steps=40,
    batch_size=4,
    grad_accum=1,
    learning_rate=5e-3,
    lora_r=4,
    lora_alpha=8,
    max_length=64,
    precision="fp32",
)
MESSAGES = [
    {"role": "system", "content": "You are a companion."},
    {"role": "user", "content": "What did I learn?"},
    {"role": "assistant", "content": "Asking early is cheaper."},
]


def test_answers_alone_are_marked_for_the_loss(tiny_model: Path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    template = training_template(tokenizer, MESSAGES)
    assert template == CHATML_TRAINING_TEMPLATE
    encoded = tokenizer.apply_chat_template(
        MESSAGES,
        chat_template=template,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    marked = [t for t, m in zip(encoded["input_ids"], encoded["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(marked) == "Asking early is cheaper.<|im_end|>"


def test_a_template_that_renders_differently_falls_back_to_every_token(tiny_model: Path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.chat_template = (
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    )
    assert training_template(tokenizer, MESSAGES) is None


def test_eval_comes_every_checkpoint_interval_and_at_least_once_an_epoch():
    cfg = TrainConfig("m", "t", "v", "o", 40, 4, 2, 2e-4, 16, 32, 128, "fp32", checkpoint_every=10)
    assert eval_interval(400, cfg) == 10  # 50 steps an epoch: the interval is sooner
    assert eval_interval(48, cfg) == 6  # 6 steps an epoch: every epoch
    assert eval_interval(3, cfg) == 1


@pytest.mark.parametrize(
    ("cuda", "installed", "stack", "packed"),
    [
        (False, {"unsloth", "flash_attn"}, "peft", False),  # a CPU never takes the GPU kernels
        (True, set(), "peft", False),
        (True, {"unsloth"}, "unsloth", False),
        (True, {"unsloth", "flash_attn"}, "unsloth", True),
    ],
)
def test_unsloth_and_padding_free_only_on_cuda_where_installed(
    monkeypatch, cuda, installed, stack, packed
):
    monkeypatch.setattr(backend, "_installed", lambda module: module in installed)
    assert choose_backend(cuda) == stack
    assert choose_backend(cuda, warm=True) == "peft"  # PEFT continues a saved adapter
    assert padding_free(cuda) is packed


def test_the_lm_head_on_answers_alone_gives_transformers_own_loss(tiny_model: Path, tmp_path):
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.chat_template = CHATML_TRAINING_TEMPLATE
    longer = [*MESSAGES[:2], {"role": "assistant", "content": "Asking early is cheaper. " * 5}]
    trainer = PlainLossSFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        args=SFTConfig(
            output_dir=str(tmp_path),
            per_device_train_batch_size=2,
            assistant_only_loss=True,
            use_cpu=True,
            bf16=False,
            report_to=[],
        ),
        train_dataset=Dataset.from_list([{"messages": MESSAGES}, {"messages": longer}]),
        processing_class=tokenizer,
        peft_config=LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    batch = next(iter(trainer.get_train_dataloader()))
    assert (batch["attention_mask"] == 0).any()  # one example is padded
    labelled = (batch["labels"][:, 1:] != -100).sum()
    answers_only = trainer.compute_loss(trainer.model, batch, num_items_in_batch=labelled)
    every_logit = Trainer.compute_loss(trainer, trainer.model, batch, num_items_in_batch=labelled)
    torch.testing.assert_close(answers_only, every_logit)
    assert 0 < trainer.labelled_tokens == int(labelled) < batch["attention_mask"].sum()


class _State:
    def __init__(self, max_steps: int) -> None:
        self.global_step, self.max_steps = 0, max_steps


class _Control:
    should_training_stop = False


def test_the_time_budget_keeps_the_steps_the_measured_pace_allows():
    state, control = _State(max_steps=100), _Control()
    events: list[dict] = []
    budget = TimeBudget(20.0, events.append, clock=lambda: 2.0 * state.global_step)  # 2 s a step
    budget.on_train_begin(None, state, control)
    while not control.should_training_stop and state.global_step < state.max_steps:
        state.global_step += 1
        budget.on_step_end(None, state, control)
    # After 3 steps (6 s) the pace is 2 s a step: 7 more fit in the 14 s left.
    assert events == [
        {"event": "time_budget", "s_per_step": 2.0, "planned_steps": 100, "budget_steps": 10}
    ]
    assert state.global_step == budget.cap == 10


def test_a_budget_the_whole_run_fits_in_changes_nothing():
    state, control = _State(max_steps=8), _Control()
    budget = TimeBudget(60.0, lambda event: None, clock=lambda: 1.0 * state.global_step)
    budget.on_train_begin(None, state, control)
    for _ in range(8):
        state.global_step += 1
        budget.on_step_end(None, state, control)
    assert budget.cap is None and not control.should_training_stop


def tiny_config(tiny_model: Path, tmp_path: Path) -> TrainConfig:
    """CONFIG on the tiny model, training and evaluating on 16 short answers."""
    data = tmp_path / "train.jsonl"
    lines = [
        json.dumps({"messages": [*MESSAGES[:2], {"role": "assistant", "content": f"Day {i}."}]})
        for i in range(16)
    ]
    data.write_text("\n".join(lines) + "\n")
    return replace(CONFIG, base_model=str(tiny_model), train_file=str(data), val_file=str(data))


def test_a_tiny_time_budget_stops_a_real_run_after_measuring(tiny_model: Path, tmp_path: Path):
    cfg = tiny_config(tiny_model, tmp_path)
    cfg = replace(cfg, output_dir=str(tmp_path / "out"), max_steps=50, time_budget_s=0.001)
    events: list[dict] = []
    metrics = train(cfg, events.append)
    assert metrics["steps"] == metrics["budget_steps"] == MEASURE_STEPS
    assert metrics["stopped_by_budget"] and metrics["planned_steps"] == 50
    assert any(e.get("event") == "time_budget" for e in events)


def test_a_warm_start_continues_the_adapter_and_measures_the_base_without_it(
    tiny_model: Path, tmp_path: Path
):
    cfg = tiny_config(tiny_model, tmp_path)
    first = train(replace(cfg, output_dir=str(tmp_path / "first"), max_steps=12))
    warm = train(
        replace(
            cfg,
            output_dir=str(tmp_path / "warm"),
            max_steps=4,
            init_adapter=str(tmp_path / "first"),
        )
    )
    assert warm["warm_start"] and not first["warm_start"]
    assert warm["base_eval_loss"] == pytest.approx(first["base_eval_loss"], abs=1e-3)
    assert warm["start_eval_loss"] == pytest.approx(first["tuned_eval_loss"], abs=1e-3)
    assert warm["start_eval_loss"] < warm["base_eval_loss"]
    assert warm["tuned_eval_loss"] < warm["start_eval_loss"]
