"""Failed training attempts, brought about for real or injected, healed and retried by lora_adapter.

Does not touch: export and later stages.
"""

import errno
import os
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from forge_pipeline_tests.helpers import (
    UPSTREAM,
    materialize_assets,
    metadata,
    sample_texts,
    tiny_overrides,
)
from forge_pipeline_tests.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def curated_home(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FORGE_HOME holding a curated set, shared by this module's training runs."""
    home = tmp_path_factory.mktemp("healing-home")
    with dg.instance_for_test() as instance:
        assert materialize_assets(
            tiny_overrides(tiny_model, home=str(home)), UPSTREAM, instance
        ).success
    return home


def train(tiny_model: Path, home: Path, **overrides: str) -> dg.ExecuteInProcessResult:
    """Materialize lora_adapter alone (10 steps) on the shared curated set."""
    settings = tiny_overrides(tiny_model, home=str(home), **{"training.max_steps": "10"})
    with dg.instance_for_test() as instance:
        return materialize_assets({**settings, **overrides}, ["lora_adapter"], instance)


def failure_of(result: dg.ExecuteInProcessResult) -> str:
    event = next(e for e in result.all_events if e.is_step_failure)
    return event.step_failure_data.user_failure_data.description


def test_injected_out_of_memory_heals_with_a_smaller_batch(tiny_model, curated_home, monkeypatch):
    monkeypatch.setenv("FORGE_TRAIN_INJECT", "oom:4")  # batch 8 fails as a full GPU would
    result = train(tiny_model, curated_home)
    assert result.success
    meta = metadata(result, "lora_adapter")
    assert meta["attempts"] == 2
    assert "out_of_memory" in meta["healed_failures"]
    assert "batch_size=4, grad_accum=2" in meta["healed_failures"]


def test_injected_bf16_failure_heals_to_fp32(tiny_model, curated_home, monkeypatch):
    monkeypatch.setenv("FORGE_TRAIN_INJECT", "bf16")
    result = train(tiny_model, curated_home, **{"training.precision": "bf16"})
    assert result.success
    meta = metadata(result, "lora_adapter")
    assert meta["attempts"] == 2 and meta["precision"] == "fp32"
    assert "bf16_unsupported" in meta["healed_failures"]


def test_missing_model_path_stops_at_once_with_what_to_do(tiny_model, curated_home, tmp_path):
    result = train(tiny_model, curated_home, base_model=str(tmp_path / "no-such-model"))
    assert not result.success
    assert "base model was not found" in failure_of(result)


@pytest.fixture(scope="module")
def wide_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a 128x wider MLP: its activations make memory grow with the batch."""
    return build_tiny_model(tmp_path_factory.mktemp("wide-model"), sample_texts(), 16384)


def test_a_real_memory_limit_is_healed_by_a_smaller_batch(wide_model, curated_home):
    # The wide model's trainer peaks at 1,873 MB resident with batches of 8, 1,622 MB with 4 and
    # 1,343 MB with 2 (max_length 256, whole runs with their evals, measured 2026-12-02); a CI
    # run read ~170 MB more at 2. Under 1750 MB the first attempt is stopped for real and a
    # smaller batch fits: 4, or 2 on a run that reads high. Either way the effective batch is 8.
    limits = {"training.memory_limit_mb": "1750", "training.max_length": "256"}
    result = train(wide_model, curated_home, **limits)
    assert result.success
    meta = metadata(result, "lora_adapter")
    assert meta["attempts"] >= 2 and meta["batch_size"] in (4, 2)
    assert meta["batch_size"] * meta["grad_accum"] == 8
    assert "out_of_memory" in meta["healed_failures"]


def test_huge_learning_rate_is_classified_lowered_and_then_reported(tiny_model, curated_home):
    # 1e30 overflows the LoRA weights to inf, so the loss is NaN; dividing by 10 three times
    # cannot save it, and the run stops saying so.
    result = train(tiny_model, curated_home, **{"training.learning_rate": "1e30"})
    assert not result.success
    assert "nan loss after 4 attempts" in failure_of(result)
    event = next(e for e in result.all_events if e.is_step_failure)
    attempts = event.step_failure_data.user_failure_data.metadata["attempts"].value
    assert attempts.count("nan_loss") == 4 and "learning_rate=1e+27" in attempts


@pytest.fixture
def full_disk_home(curated_home: Path, tmp_path: Path):
    """A copy of the curated FORGE_HOME on a small tmpfs filled to the last byte."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "small-disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], check=True)
    try:
        home = disk / "home"
        shutil.copytree(curated_home, home)
        _fill(disk / "filler")
        yield home
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)


def _fill(path: Path) -> None:
    """Write zeros to path until the filesystem has no space left."""
    chunk = bytes(64 * 1024)
    with path.open("wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    return
                chunk = chunk[: len(chunk) // 2]


def test_a_full_disk_stops_at_once_saying_to_free_space(tiny_model, full_disk_home):
    result = train(tiny_model, full_disk_home)
    assert not result.success
    assert "disk holding FORGE_HOME is full" in failure_of(result)
    event = next(e for e in result.all_events if e.is_step_failure)
    attempts = event.step_failure_data.user_failure_data.metadata["attempts"].value
    assert attempts.count("disk_full") == 1
