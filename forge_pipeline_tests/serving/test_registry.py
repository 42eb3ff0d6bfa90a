"""The model registry: versions, atomic current pointer, previous kept, pruning.

Does not touch: llama.cpp, Dagster.
"""

from pathlib import Path

import pytest

from forge_pipeline.serving.registry import ModelRegistry, RegistryError


def fake_gguf(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + content)
    return path


def test_register_activate_and_prune(tmp_path: Path):
    registry = ModelRegistry(tmp_path / "registry")
    with pytest.raises(RegistryError, match="No model deployed"):
        registry.current_model()
    for i in range(12):
        manifest = registry.register([fake_gguf(tmp_path, bytes([i]))], "model.gguf", {})
        registry.activate(manifest["version"])
    assert registry.current_version() == "v0012"
    assert (registry.root / "previous").resolve().name == "v0011"
    assert registry.current_model().read_bytes() == b"GGUF" + bytes([11])
    assert registry.rollback() == "v0011"
    assert registry.current_version() == "v0011" and registry.previous_version() == "v0012"
    removed = registry.prune(keep=3)
    assert removed == [f"v{i:04d}" for i in range(1, 10)]
    assert registry.versions() == ["v0010", "v0011", "v0012"]
    assert registry.manifest("v0012")["files"]["model.gguf"]["sha256"]


def test_activating_a_missing_version_changes_nothing(tmp_path: Path):
    registry = ModelRegistry(tmp_path / "registry")
    registry.activate(registry.register([fake_gguf(tmp_path, b"a")], "model.gguf", {})["version"])
    with pytest.raises(RegistryError):
        registry.activate("v0099")
    assert registry.current_version() == "v0001"


def test_contains_only_files_inside_the_versions(tmp_path: Path):
    registry = ModelRegistry(tmp_path / "registry")
    version = registry.register([fake_gguf(tmp_path, b"a")], "model.gguf", {})["version"]
    inside = registry.versions_dir / version / "model.gguf"
    assert registry.contains(inside)
    assert not registry.contains(tmp_path / "model.gguf")
    assert not registry.contains(
        registry.versions_dir / version / ".." / ".." / ".." / "model.gguf"
    )
    assert not registry.contains(registry.versions_dir / "v9999" / "model.gguf")


def test_rollback_without_previous_is_a_clear_error(tmp_path: Path):
    registry = ModelRegistry(tmp_path / "registry")
    registry.activate(registry.register([fake_gguf(tmp_path, b"a")], "model.gguf", {})["version"])
    with pytest.raises(RegistryError, match="No previous version"):
        registry.rollback()


@pytest.mark.parametrize("version", ["../../x", "v0001/../v0001", "/etc", "v0001\n", "latest"])
def test_only_version_names_are_read(tmp_path: Path, version: str):
    registry = ModelRegistry(tmp_path / "registry")
    registry.activate(registry.register([fake_gguf(tmp_path, b"a")], "model.gguf", {})["version"])
    outside = tmp_path / "x"
    outside.mkdir()
    (outside / "manifest.json").write_text('{"serve_file": "/etc/passwd"}')
    with pytest.raises(RegistryError, match="not a version name"):
        registry.model_path(version)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ('{"serve_file": "/etc/passwd"}', "not a file of its own folder"),
        ('{"serve_file": "../v0001/model.gguf"}', "not a file of its own folder"),
        ('{"serve_file": 7}', "not a file of its own folder"),
        ('{"serve_file": "gone.gguf"}', "is missing"),
        ('{"serve_file": "mod', "unreadable"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_a_bad_manifest_is_one_clear_error(tmp_path: Path, manifest: str, message: str):
    registry = ModelRegistry(tmp_path / "registry")
    version = registry.register([fake_gguf(tmp_path, b"a")], "model.gguf", {})["version"]
    (registry.versions_dir / version / "manifest.json").write_text(manifest)
    with pytest.raises(RegistryError, match=message):
        registry.model_path(version)
