"""Shared fixtures: an isolated FORGE_HOME per test, the sample vault, the tiny test model."""

import os
import shutil
from pathlib import Path

import pytest

from forge_pipeline.lib.core.config import PROJECT_ROOT
from forge_pipeline_tests.docker_engine import ensure_engine, ensure_test_image
from forge_pipeline_tests.helpers import SHARED_CACHE, sample_texts
from forge_pipeline_tests.tiny_model import build_tiny_model


@pytest.fixture(autouse=True)
def forge_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own FORGE_HOME and DAGSTER_HOME; downloads share one cache."""
    for name in list(os.environ):
        if name.startswith("FORGE_"):
            monkeypatch.delenv(name)
    home = tmp_path / "forge-home"
    (home / "dagster").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster" / "dagster.yaml")
    monkeypatch.setenv("FORGE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("FORGE_CACHE_DIR", str(SHARED_CACHE))
    # `forge forget` writes beside forge.yaml by default: never into the project under test.
    monkeypatch.setenv("FORGE_CURATION_FORGET_FILE", str(tmp_path / "forgotten.yaml"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)  # a developer's key never reaches tests
    return home


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with a tokenizer trained on the sample vault's reflections."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), sample_texts())


@pytest.fixture(scope="module")
def test_image() -> str:
    """The local Docker test image, on an engine started if need be (skips without one)."""
    ensure_engine()
    return ensure_test_image()


@pytest.fixture(scope="session")
def tiny_gguf(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model as an f16 GGUF, written by llama.cpp's converter."""
    from forge_pipeline.lib.export.gguf_export import convert_to_gguf

    target = tmp_path_factory.mktemp("tiny-gguf") / "model-f16.gguf"
    return convert_to_gguf(tiny_model, target, "f16", SHARED_CACHE / "tools")
