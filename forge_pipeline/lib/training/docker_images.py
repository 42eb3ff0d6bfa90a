"""Which trainer image suits which GPU architecture, and how `forge docker build` makes it."""

import re
from pathlib import Path

from forge_pipeline.lib.core.config import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "docker" / "Dockerfile"
BASE_IMAGE = "python:3.11-slim-bookworm"
TORCH_SPEC = "torch==2.13.0"
GPU_EXTRAS = "unsloth==2026.10.9 bitsandbytes==0.50.2"
# PyTorch's wheel index per architecture: CUDA 12.6 builds cover Turing to Ada; Hopper and
# Blackwell (sm_90, sm_100/120) need the CUDA 12.8 builds.
TORCH_INDEXES = {
    "cpu": "cpu",
    "turing": "cu126",
    "ampere": "cu126",
    "ada": "cu126",
    "hopper": "cu128",
    "blackwell": "cu128",
}
_ARG = re.compile(r"^ARG\s+(\w+)(?:=(.*))?$", re.MULTILINE)
_USE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def image_tag(architecture: str) -> str:
    """The local tag of an architecture's trainer image."""
    return f"forge:{architecture}"


def build_args(architecture: str) -> dict[str, str]:
    """The Dockerfile's build arguments for an architecture."""
    if architecture not in TORCH_INDEXES:
        known = ", ".join(TORCH_INDEXES)
        raise ValueError(f"No trainer image for {architecture!r}; known: {known}.")
    return {
        "BASE_IMAGE": BASE_IMAGE,
        "TORCH_INDEX": f"https://download.pytorch.org/whl/{TORCH_INDEXES[architecture]}",
        "TORCH_SPEC": TORCH_SPEC,
        "GPU_EXTRAS": "" if architecture == "cpu" else GPU_EXTRAS,
    }


def build_command(architecture: str, no_cache: bool = False, **overrides: str) -> list[str]:
    """The `docker build` command line for an architecture's image (build arguments overridable)."""
    args = [f"--build-arg={k}={v}" for k, v in {**build_args(architecture), **overrides}.items()]
    cache = ["--no-cache"] if no_cache else []
    tag = image_tag(architecture)
    return ["docker", "build", *cache, "-f", str(DOCKERFILE), *args, "-t", tag, str(PROJECT_ROOT)]


def unresolved_args(architecture: str, dockerfile: Path = DOCKERFILE) -> list[str]:
    """Variables the Dockerfile uses that neither a default nor the build arguments define."""
    text = dockerfile.read_text()
    defined = {name for name, _ in _ARG.findall(text)} | set(build_args(architecture))
    environment = set(re.findall(r"^ENV\s+(.*)$", text, re.MULTILINE))
    defined |= {pair.split("=")[0] for line in environment for pair in line.split()}
    used = {a or b for a, b in _USE.findall(_without_comments(text))}
    return sorted(used - defined)


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
