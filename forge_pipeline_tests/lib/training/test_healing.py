"""Failure classes and their bounded fixes.

Does not touch: Dagster, models (the real failures are in test_training_healing.py).
"""

import errno

import pytest

from forge_pipeline.lib.training.healing import (
    DISK_FULL_EXIT,
    classify,
    failure_message,
    fix_for,
    within_bounds,
)
from forge_pipeline.training.failures import exit_status

KNOBS = {
    "batch_size": 8,
    "grad_accum": 1,
    "learning_rate": 2e-4,
    "max_length": 256,
    "gradient_checkpointing": False,
    "precision": "bf16",
    "device": "cuda",
}


@pytest.mark.parametrize(
    ("code", "tail", "failure"),
    [
        (
            1,
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
            "out_of_memory",
        ),
        (1, "RuntimeError: DefaultCPUAllocator: can't allocate memory", "out_of_memory"),
        (-9, "", "out_of_memory"),
        (1, "RuntimeError: bf16 is not supported on this device", "bf16_unsupported"),
        (
            1,
            "OSError: /x is not a local folder and is not a valid model identifier",
            "model_not_found",
        ),
        (1, "OSError: Repo id must be in the form 'repo_name': '/no/such'", "model_not_found"),
        (1, "FileNotFoundError: /m holds no config.json: not a Hugging Face", "model_not_found"),
        (137, "", "out_of_memory"),  # a container killed by the kernel
        (1, "401 Client Error. Cannot access gated repo for url", "gated_model"),
        (1, "FloatingPointError: non-finite loss (nan) at step 3", "nan_loss"),
        (1, "OSError: [Errno 28] No space left on device", "disk_full"),
        (28, "", "disk_full"),  # the trainer could not even write its failure tail
        (1, "ValueError: something new", "unknown"),
    ],
)
def test_classify(code, tail, failure):
    assert classify(code, tail) == failure


def test_the_trainer_exits_28_when_a_disk_filled_up_however_deep_the_cause():
    full = OSError(errno.ENOSPC, "No space left on device")
    try:
        try:
            raise full
        except OSError as exc:
            raise RuntimeError("saving the checkpoint failed") from exc
    except RuntimeError as wrapped:
        assert exit_status(wrapped) == DISK_FULL_EXIT == 28
    assert exit_status(ValueError("bad")) == 1


def test_out_of_memory_fixes_in_order_until_none_is_left():
    knobs, notes = dict(KNOBS), []
    while fix := fix_for("out_of_memory", knobs):
        knobs.update(fix[0])
        notes.append(fix[1])
    assert knobs["batch_size"] == 1 and knobs["grad_accum"] == 8
    assert knobs["gradient_checkpointing"] and knobs["max_length"] == 64
    assert notes[0] == "halved the batch, doubled accumulation" and len(notes) == 6


def test_bf16_and_nan_fixes_are_bounded():
    assert fix_for("bf16_unsupported", KNOBS)[0] == {"precision": "fp16"}
    assert fix_for("bf16_unsupported", {**KNOBS, "device": "cpu"})[0] == {"precision": "fp32"}
    assert fix_for("bf16_unsupported", {**KNOBS, "precision": "fp32"}) is None
    assert fix_for("nan_loss", KNOBS)[0] == {"learning_rate": pytest.approx(2e-5)}
    assert fix_for("nan_loss", {**KNOBS, "learning_rate": 5e-6}) is None
    assert fix_for("model_not_found", KNOBS) is None and fix_for("disk_full", KNOBS) is None


def test_a_diagnosis_is_used_only_within_the_rules_bounds():
    def inside(tail, knobs):
        return {"batch_size": 2, "gradient_checkpointing": True}, "model says: smaller batch"

    def outside(tail, knobs):
        return {"learning_rate": 1.0}, "model says: raise the learning rate"

    assert fix_for("unknown", KNOBS, "tail", inside)[1] == "model says: smaller batch"
    assert fix_for("unknown", KNOBS, "tail", outside) is None
    assert not within_bounds({"batch_size": 16}, KNOBS) and not within_bounds({"rm": "-rf"}, KNOBS)


def test_messages_say_what_to_do():
    assert "huggingface-cli login" in failure_message("gated_model", 1, "")
    assert "base_model in forge.yaml" in failure_message("model_not_found", 1, "")
    assert "after 4 attempts" in failure_message("nan_loss", 4, "")
    exhausted = failure_message("out_of_memory", 4, "Traceback ...\nMemoryLimitExceeded: 1600 MB\n")
    assert exhausted.endswith("Last error: MemoryLimitExceeded: 1600 MB")
    assert failure_message("unknown", 1, "THE TAIL").endswith("THE TAIL")
