"""The fine-tuning stack of a run: Unsloth on CUDA where it is installed, else PEFT + TRL."""

import importlib.util
from pathlib import Path
from typing import Any

from forge_pipeline.training.train_config import TrainConfig

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def choose_backend(cuda: bool, warm: bool = False) -> str:
    """unsloth when CUDA is present and unsloth importable; peft otherwise (every CPU).

    A warm start always runs on PEFT, whose loader continues a saved adapter as trained here.
    """
    return "unsloth" if cuda and not warm and _installed("unsloth") else "peft"


def padding_free(cuda: bool) -> bool:
    """Pack examples without padding only where attention keeps them apart (FlashAttention on
    CUDA); on a CPU, TRL's padding-free and BFD packing measured no faster (README)."""
    return cuda and _installed("flash_attn")


def load_unsloth(cfg: TrainConfig, dtype: Any) -> tuple[Any, Any]:
    """Unsloth's patched model, already wrapped in its LoRA adapter, and its tokenizer."""
    from unsloth import FastLanguageModel  # pyright: ignore[reportMissingImports]  # CUDA only

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


def load_model(cfg: TrainConfig, backend: str, packed: bool) -> tuple[Any, Any, Any]:
    """The base model and tokenizer, and the LoRA config PEFT wraps it in (None for Unsloth
    and for a warm start, whose model comes wrapped in the adapter it continues)."""
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
    tokenizer = _with_pad_token(AutoTokenizer.from_pretrained(cfg.base_model))
    if cfg.init_adapter:
        from peft import PeftModel

        return (
            PeftModel.from_pretrained(model, cfg.init_adapter, is_trainable=True),
            tokenizer,
            None,
        )
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=0.0,  # dropout on every projection's input cost ~20% of a CPU step
        target_modules=LORA_TARGETS,
        task_type="CAUSAL_LM",
    )
    return model, tokenizer, lora


def _with_pad_token(tokenizer: Any) -> Any:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
