"""Failed training attempts: classified from exit status and output, healed by bounded changes."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_RETRIES = 3
MIN_MAX_LENGTH = 64
MIN_LEARNING_RATE = 1e-6

# Checked in order: the first class whose pattern occurs in the output tail wins.
PATTERNS = [
    ("gated_model", r"gated repo|restricted to authorized|must be authenticated|401 Client Error"),
    (
        "model_not_found",
        r"not a local folder and is not a valid model identifier|"
        r"Can't load (?:the )?(?:config|tokenizer)|No such file or directory: .*config\.json|"
        r"Repository Not Found|is not a directory|does not appear to have a file named config|"
        r"Repo id must be in the form|LocalEntryNotFoundError|couldn't find them in the cached|"
        r"holds no config\.json",
    ),
    ("disk_full", r"No space left on device|ENOSPC|Disk quota exceeded"),
    (
        "out_of_memory",
        r"out of memory|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|"
        r"can't allocate memory|Cannot allocate memory|MemoryError",
    ),
    ("bf16_unsupported", r"bf16|bfloat16"),
    ("nan_loss", r"non-finite loss|loss is nan|loss is inf|NaN loss"),
]
# Exit statuses that mean the kernel killed the process: on a trainer, the OOM killer. The
# trainer's own memory watch (training.memory_limit_mb) exits with the same status.
OUT_OF_MEMORY_EXIT = 137
KILLED = {-9, OUT_OF_MEMORY_EXIT}
# The trainer's status when a disk filled up (errno ENOSPC): on a full disk it may not be able
# to write its failure tail, so the status alone must say it.
DISK_FULL_EXIT = 28

ADVICE = {
    "gated_model": "The base model is gated on Hugging Face: run `huggingface-cli login`, accept "
    "its licence on the model page, and download it once into your cache.",
    "model_not_found": "The base model was not found: set base_model in forge.yaml to a local "
    "Hugging Face folder or a model already in your cache (or `default`).",
    "disk_full": "The disk holding FORGE_HOME is full: free space (old registry versions, "
    "$FORGE_HOME/artifacts) and materialize again.",
    "unknown": "Training failed for a reason Forge does not recognise; the output tail is below.",
}


@dataclass
class Attempt:
    """One failed attempt: its class and the change made for the next one (empty: none)."""

    number: int
    failure: str
    change: dict[str, Any]
    note: str


def classify(exit_code: int | None, output_tail: str) -> str:
    """The failure class of a training attempt."""
    for name, pattern in PATTERNS:
        if re.search(pattern, output_tail, re.IGNORECASE):
            return name
    if exit_code in KILLED:
        return "out_of_memory"
    if exit_code == DISK_FULL_EXIT:
        return "disk_full"
    return "unknown"


Knobs = dict[str, Any]


def _out_of_memory(knobs: Knobs) -> tuple[Knobs, str] | None:
    if knobs["batch_size"] > 1:
        batch = knobs["batch_size"] // 2
        accum = knobs["grad_accum"] * 2
        return {"batch_size": batch, "grad_accum": accum}, "halved the batch, doubled accumulation"
    if not knobs["gradient_checkpointing"]:
        return {"gradient_checkpointing": True}, "turned on gradient checkpointing"
    if knobs["max_length"] > MIN_MAX_LENGTH:
        shorter = max(MIN_MAX_LENGTH, knobs["max_length"] // 2)
        return {"max_length": shorter}, "halved the maximum length"
    return None


def _bf16_unsupported(knobs: Knobs) -> tuple[Knobs, str] | None:
    if knobs["precision"] != "bf16":
        return None
    fallback = "fp16" if knobs["device"] == "cuda" else "fp32"
    return {"precision": fallback}, f"switched bf16 to {fallback}"


def _nan_loss(knobs: Knobs) -> tuple[Knobs, str] | None:
    if knobs["learning_rate"] / 10 < MIN_LEARNING_RATE:
        return None
    return {"learning_rate": knobs["learning_rate"] / 10}, "divided the learning rate by 10"


# What is left to the user once a class's bounded fixes are used up.
BY_HAND = {
    "out_of_memory": "lower training.batch_size or max_length by hand, or raise "
    "training.memory_limit_mb if it is set",
    "bf16_unsupported": "set training.precision to fp32",
    "nan_loss": "lower training.learning_rate by hand",
}

FIXES: dict[str, Callable[[Knobs], tuple[Knobs, str] | None]] = {
    "out_of_memory": _out_of_memory,
    "bf16_unsupported": _bf16_unsupported,
    "nan_loss": _nan_loss,
}


Diagnoser = Callable[[str, Knobs], tuple[Knobs, str] | None]


def fix_for(
    failure: str, knobs: Knobs, tail: str = "", diagnose: Diagnoser | None = None
) -> tuple[Knobs, str] | None:
    """The bounded change that may heal this failure, or None when there is none.

    For failures the rules do not know, `diagnose` (copilot.GeminiDiagnosis) may propose a
    change; it is used only when it stays within the bounds the rules themselves keep to.
    """
    if fix := FIXES.get(failure):
        return fix(knobs)
    if failure == "unknown" and diagnose:
        proposal = diagnose(tail, knobs)
        if proposal and within_bounds(proposal[0], knobs):
            return proposal
    return None


def within_bounds(change: Knobs, knobs: Knobs) -> bool:
    """A change only shrinks what the rules may shrink, or turns on what they may turn on."""
    allowed = {
        "batch_size": lambda v: isinstance(v, int) and 1 <= v <= knobs["batch_size"],
        "grad_accum": lambda v: isinstance(v, int) and knobs["grad_accum"] <= v <= 64,
        "learning_rate": lambda v: (
            isinstance(v, (int, float)) and MIN_LEARNING_RATE <= v <= knobs["learning_rate"]
        ),
        "max_length": lambda v: isinstance(v, int) and MIN_MAX_LENGTH <= v <= knobs["max_length"],
        "gradient_checkpointing": lambda v: v is True,
        "precision": lambda v: v in ("fp16", "fp32"),
    }
    return bool(change) and all(k in allowed and allowed[k](v) for k, v in change.items())


def attempts_table(attempts: list[Attempt]) -> list[tuple[int, str, str, str]]:
    """Rows for a Markdown table of failed attempts."""
    return [
        (
            a.number,
            a.failure,
            ", ".join(f"{k}={_short(v)}" for k, v in a.change.items()) or "-",
            a.note,
        )
        for a in attempts
    ]


def failure_message(failure: str, attempts: int, tail: str) -> str:
    """One sentence for a failure that is not healed, with the output tail when it helps."""
    if failure in ADVICE and failure != "unknown":
        return ADVICE[failure]
    if failure in FIXES:
        last = next((line for line in reversed(tail.splitlines()) if line.strip()), "")
        return (
            f"Training kept failing with {failure.replace('_', ' ')} after {attempts} attempts "
            f"and every bounded fix was tried; {BY_HAND[failure]}."
            + (f" Last error: {last.strip()}" if last else "")
        )
    return f"{ADVICE['unknown']}\n\n{tail}"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
