"""Merge a LoRA adapter into a full-precision copy of its base model."""

from pathlib import Path

from forge_pipeline.lib.core.artifacts import atomic_dir


def merge_adapter(base_model: str, adapter_dir: Path, target: Path) -> Path:
    """Write base + adapter as one safetensors model with tokenizer and chat template."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Never merge into a 4-bit base: always reload the base in full precision first.
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    with atomic_dir(target) as out:
        merged.save_pretrained(out)
        tokenizer.save_pretrained(out)
        for file in out.iterdir():
            file.chmod(0o644)  # safetensors writes 0600
    return target
