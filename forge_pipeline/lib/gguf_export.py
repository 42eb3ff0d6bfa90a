"""GGUF export with llama.cpp's own converter, and validation by loading the file."""

import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from forge_pipeline.lib.artifacts import atomic_dir, atomic_file, sha256_file

LLAMA_CPP_SDIST = "llama-cpp-python==0.3.36"
LLAMA_CPP_SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
_CONVERTER_PARTS = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/")
GGUF_MAGIC = b"GGUF"


class GGUFError(RuntimeError):
    """A GGUF file could not be written or does not load."""


@dataclass
class Validation:
    """What loading a GGUF and chatting with it showed."""

    architecture: str
    chat_template: bool
    reply: str
    tokens_per_s: float
    load_seconds: float


def converter_dir(tools_dir: Path) -> Path:
    """llama.cpp's converter from the pinned llama-cpp-python sdist, fetched once."""
    target = tools_dir / f"llama.cpp-{LLAMA_CPP_SDIST.split('==')[1]}"
    if (target / "convert_hf_to_gguf.py").exists():
        return target
    with tempfile.TemporaryDirectory(prefix="forge-sdist-") as tmp:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--quiet",
                "-d",
                tmp,
                LLAMA_CPP_SDIST,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if proc.returncode != 0 or not sdists:
            raise GGUFError(
                f"Could not download the {LLAMA_CPP_SDIST} sdist for llama.cpp's "
                f"converter ({proc.stderr.strip()[-300:]}); check the network."
            )
        if (actual := sha256_file(sdists[0])) != LLAMA_CPP_SDIST_SHA256:
            raise GGUFError(
                f"{sdists[0].name} has sha256 {actual}, expected "
                f"{LLAMA_CPP_SDIST_SHA256}; refusing to run its converter."
            )
        with tarfile.open(sdists[0]) as archive, atomic_dir(target) as out:
            prefix = f"{sdists[0].name.removesuffix('.tar.gz')}/vendor/llama.cpp/"
            members = [
                m
                for m in archive.getmembers()
                if m.name.startswith(prefix) and m.name[len(prefix) :].startswith(_CONVERTER_PARTS)
            ]
            for member in members:
                member.name = member.name[len(prefix) :]
            archive.extractall(out, members=members, filter="data")
    return target


def convert_to_gguf(model_dir: Path, target: Path, outtype: str, tools_dir: Path) -> Path:
    """Convert a Hugging Face model folder to one GGUF file (f16, q8_0, ...)."""
    tools = converter_dir(tools_dir)
    env = {**os.environ, "PYTHONPATH": str(tools / "gguf-py"), "HF_HUB_OFFLINE": "1"}
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


def check_header(path: Path) -> None:
    """Refuse files that are not GGUF before llama.cpp touches them."""
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise GGUFError(f"{path} is not a GGUF file (bad magic); re-run the export.")


def validate_gguf(path: Path, prompt: str, system: str, threads: int = 0) -> Validation:
    """Load the GGUF in llama.cpp and answer one prompt with the file's own chat template."""
    from llama_cpp import Llama

    check_header(path)
    threads = threads or os.cpu_count() or 1
    started = time.perf_counter()
    try:
        llm = Llama(
            model_path=str(path),
            n_ctx=1024,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
            seed=0,
        )
    except ValueError as exc:
        raise GGUFError(f"llama.cpp cannot load {path} ({exc}); re-run the export.") from exc
    load_seconds = time.perf_counter() - started
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise GGUFError(f"{path} has no chat template; it would answer in the wrong format.")
    started = time.perf_counter()
    answer = llm.create_chat_completion(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
        max_tokens=64,
        temperature=0.0,
    )
    seconds = time.perf_counter() - started
    reply = answer["choices"][0]["message"]["content"] or ""
    tokens = answer["usage"]["completion_tokens"]
    architecture = llm.metadata.get("general.architecture", "")
    llm.close()
    return Validation(
        architecture,
        True,
        reply.strip(),
        round(tokens / max(seconds, 1e-9), 1),
        round(load_seconds, 2),
    )
