"""The trainer's chat template (loss on the answers only, served template unchanged), its loss
with the LM head on the answers alone, its evaluation interval and its choice of stack.

Does not touch: Dagster.
"""

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, Trainer

from forge_pipeline.training import backend
from forge_pipeline.training.backend import choose_backend, padding_free
from forge_pipeline.training.plain_loss import PlainLossSFTTrainer
from forge_pipeline.training.train_lora import (
    CHATML_TRAINING_TEMPLATE,
    TrainConfig,
    eval_interval,
    training_template,
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
    cfg = TrainConfig("m", "t", "v", "o", batch_size=4, grad_accum=2, checkpoint_every=10)
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
