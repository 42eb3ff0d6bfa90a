"""The fine-tuning stack of a run: Unsloth on CUDA where it is installed, else PEFT + TRL."""

import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forge_pipeline.training.train_config import TrainConfig

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def choose_backend(cuda: bool) -> str:
    """unsloth when CUDA is present and unsloth importable; peft otherwise (every CPU)."""
    return "unsloth" if cuda and _installed("unsloth") else "peft"


def padding_free(cuda: bool) -> bool:
    """Pack examples without padding only where attention keeps them apart (FlashAttention on
    CUDA); on a CPU, TRL's padding-free and BFD packing measured no faster (README)."""
    return cuda and _installed("flash_attn")


def load_unsloth(cfg: "TrainConfig", dtype: Any) -> tuple[Any, Any]:
    """Unsloth's patched model, already wrapped in its LoRA adapter, and its tokenizer."""
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=cfg.base_model,
        max_seq_length=cfg.max_length,
        dtype=dtype,
        load_in_4bit=cfg.load_in_4bit,
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=0,
        target_modules=LORA_TARGETS,
        bias="none",
        use_gradient_checkpointing="unsloth" if cfg.gradient_checkpointing else False,
        random_state=cfg.seed,
    )
    return model, tokenizer


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
