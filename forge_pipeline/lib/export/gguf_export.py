"""GGUF export: llama.cpp's own converter, then quantization through llama.cpp itself."""

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from forge_pipeline.lib.core.artifacts import atomic_dir, atomic_file, sha256_dir
from forge_pipeline.lib.core.pypi import DownloadError, fetch_sdist
from forge_pipeline.lib.export.gguf_check import (
    PERPLEXITY_MARGINS,
    GGUFError,
    Scored,
    gguf_mean_nll,
    hf_mean_nll,
    inspect_gguf,
    perplexity,
)
from forge_pipeline.lib.export.modelfile import ModelfileError, write_modelfile

LLAMA_CPP_SDIST = "llama-cpp-python==0.3.36"
LLAMA_CPP_SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
# The converter files extracted from that sdist, hashed by converter_intact.
CONVERTER_TREE_SHA256 = "57dbc7ba56e278538cd93afb13afd35bf80c615cddf511b09473569d07ed30d1"
_CONVERTER_PARTS = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/")
QUANTIZED_TYPES = {"q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M"}
CONVERTER_TYPES = ("f32", "f16", "bf16", "q8_0")


def converter_dir(tools_dir: Path) -> Path:
    """llama.cpp's converter from the pinned llama-cpp-python sdist: fetched once, and checked
    before every use (the host runs it, so a changed file is fetched again, never run)."""
    target = tools_dir / f"llama.cpp-{LLAMA_CPP_SDIST.split('==')[1]}"
    if converter_intact(target):
        return target
    with tempfile.TemporaryDirectory(prefix="forge-sdist-") as tmp:
        try:
            sdist = fetch_sdist(LLAMA_CPP_SDIST, LLAMA_CPP_SDIST_SHA256, Path(tmp))
        except DownloadError as exc:
            raise GGUFError(f"llama.cpp's converter is unavailable: {exc}") from exc
        with tarfile.open(sdist) as archive, atomic_dir(target) as out:
            prefix = f"{sdist.name.removesuffix('.tar.gz')}/vendor/llama.cpp/"
            members = [
                m
                for m in archive.getmembers()
                if m.name.startswith(prefix) and m.name[len(prefix) :].startswith(_CONVERTER_PARTS)
            ]
            for member in members:
                member.name = member.name[len(prefix) :]
            archive.extractall(out, members=members, filter="data")
    if not converter_intact(target):
        raise GGUFError(f"llama.cpp's converter in {target} is not the pinned one; delete it.")
    return target


def converter_intact(folder: Path) -> bool:
    """Whether folder holds exactly the converter files of the pinned sdist."""
    if not folder.is_dir():
        return False
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        digest.update(f"{path.relative_to(folder)}\0".encode())
        digest.update(b"link" if path.is_symlink() else path.read_bytes())
    return digest.hexdigest() == CONVERTER_TREE_SHA256


def convert_to_gguf(model_dir: Path, target: Path, outtype: str, tools_dir: Path) -> Path:
    """Convert a Hugging Face model folder to one GGUF file (f16, q8_0, ...)."""
    tools = converter_dir(tools_dir)
    env = {
        **os.environ,
        "PYTHONPATH": str(tools / "gguf-py"),
        "PYTHONDONTWRITEBYTECODE": "1",  # no cached bytecode beside the checked sources
        "HF_HUB_OFFLINE": "1",
    }
    with atomic_file(target) as tmp:
        proc = subprocess.run(
            [
                sys.executable,
                str(tools / "convert_hf_to_gguf.py"),
                str(model_dir),
                "--outfile",
                str(tmp),
                "--outtype",
                outtype,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise GGUFError(f"llama.cpp's converter failed on {model_dir}:\n{tail}")
    return target


def quantize_gguf(source: Path, target: Path, gguf_type: str, threads: int = 0) -> Path:
    """Quantize an f16/f32 GGUF with llama.cpp's own quantizer (q8_0, q4_k_m)."""
    import llama_cpp

    if gguf_type not in QUANTIZED_TYPES:
        raise GGUFError(
            f"Unknown GGUF type {gguf_type!r}; use one of "
            f"{', '.join([*CONVERTER_TYPES, *QUANTIZED_TYPES])}."
        )
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANTIZED_TYPES[gguf_type])
    params.nthread = threads or os.cpu_count() or 1
    with atomic_file(target) as tmp:
        status = llama_cpp.llama_model_quantize(
            str(source).encode(),
            str(tmp).encode(),
            params,  # pyright: ignore[reportArgumentType]  # ctypes passes the struct by reference
        )
        if status != 0:
            raise GGUFError(
                f"llama.cpp could not quantize {source} to {gguf_type} (status {status})."
            )
    return target


def export_gguf(
    model_dir: Path, target: Path, gguf_type: str, tools_dir: Path, f16: Path | None = None
) -> Path:
    """One GGUF of the given type: straight from the converter, or quantized from an f16 GGUF."""
    if gguf_type in CONVERTER_TYPES:
        return convert_to_gguf(model_dir, target, gguf_type, tools_dir)
    if f16 is None:
        raise GGUFError(
            f"{gguf_type} is quantized from f16: list f16 before it in export.gguf_types."
        )
    return quantize_gguf(f16, target, gguf_type)


def cached_gguf(model_dir: Path, cache: Path, gguf_type: str, tools_dir: Path) -> Path:
    """A model folder (the base model) as one GGUF, converted once and kept under cache."""
    folder = cache / "gguf" / sha256_dir(model_dir)[:16]
    target = folder / f"model-{gguf_type}.gguf"
    if target.exists():
        return target
    f16 = None
    if gguf_type not in CONVERTER_TYPES:
        f16 = export_gguf(model_dir, folder / "model-f16.gguf", "f16", tools_dir)
    export_gguf(model_dir, target, gguf_type, tools_dir, f16=f16)
    if f16:
        f16.unlink()  # only the quantized file is read again
    return target


@dataclass
class ExportedGGUF:
    """One exported file and how it scored against the merged model."""

    gguf_type: str
    path: Path
    val_nll: float
    perplexity_ratio: float
    modelfile: bool


def export_all(
    merged: Path,
    out: Path,
    gguf_types: list[str],
    tools_dir: Path,
    sequences: list[Scored],
    system_prompt: str,
    threads: int = 0,
    memos: dict[str, dict] | None = None,
) -> list[ExportedGGUF]:
    """Every GGUF type with a Modelfile, each scored on the val set; GGUFError past its margin.
    memos: per type, a memo that the type's per-sequence scores are written into."""
    merged_ppl = perplexity(hf_mean_nll(merged, sequences))
    exported: list[ExportedGGUF] = []
    f16 = None
    for gguf_type in gguf_types:
        path = export_gguf(merged, out / f"model-{gguf_type}.gguf", gguf_type, tools_dir, f16=f16)
        f16 = path if gguf_type == "f16" else f16
        inspection = inspect_gguf(path)
        nll = gguf_mean_nll(path, sequences, threads, (memos or {}).get(gguf_type))
        ratio = round(perplexity(nll) / merged_ppl, 4)
        margin = PERPLEXITY_MARGINS.get(gguf_type, 1.05)
        if ratio > margin:
            raise GGUFError(
                f"{path.name}: val perplexity is {ratio}x the merged model's (allowed "
                f"{margin}x); re-export, or drop {gguf_type} from export.gguf_types."
            )
        try:
            write_modelfile(path, inspection.chat_template, system_prompt)
            has_modelfile = True
        except ModelfileError:
            has_modelfile = False  # the GGUF still carries its own template
        exported.append(ExportedGGUF(gguf_type, path, nll, ratio, has_modelfile))
    return exported
