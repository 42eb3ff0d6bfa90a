"""The model registry: versions, atomic current pointer, previous kept, pruning.

Does not touch: llama.cpp, Dagster.
"""

import socket
import threading
from pathlib import Path

import pytest

from forge_pipeline.serving.client import ServerClient, ServerError
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


def test_concurrent_deploys_each_get_their_own_version(tmp_path: Path):
    registry = ModelRegistry(tmp_path / "registry")
    sources = []
    for i in range(8):
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        sources.append(fake_gguf(folder, f"run {i}".encode() * 1000))
    start = threading.Barrier(len(sources))
    manifests: list[dict] = []
    errors: list[BaseException] = []

    def deploy(source: Path) -> None:
        start.wait()
        try:
            manifest = registry.register([source], "model.gguf", {"run": source.parent.name})
            registry.activate(manifest["version"])
            manifests.append(manifest)
        except BaseException as exc:  # any failure of a concurrent deploy counts
            errors.append(exc)

    threads = [threading.Thread(target=deploy, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(m["version"] for m in manifests) == [f"v{i:04d}" for i in range(1, 9)]
    for manifest in manifests:
        served = registry.model_path(manifest["version"])
        assert served.read_bytes() == (tmp_path / manifest["run"] / "model.gguf").read_bytes()
    assert registry.current_version() in {m["version"] for m in manifests}


def test_info_cannot_override_the_registrys_own_keys(tmp_path: Path):
    registry = ModelRegistry(tmp_path / "registry")
    info = {"version": "v0999", "serve_file": "/etc/passwd", "files": {}, "eval_loss": 1.5}
    manifest = registry.register([fake_gguf(tmp_path, b"a")], "model.gguf", info)
    assert manifest["version"] == "v0001" and manifest["serve_file"] == "model.gguf"
    assert registry.manifest("v0001")["eval_loss"] == 1.5
    assert registry.model_path("v0001").name == "model.gguf"


def test_a_server_that_never_answers_is_a_server_error():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts connections, never answers
    try:
        client = ServerClient(f"http://127.0.0.1:{listener.getsockname()[1]}", "t", timeout_s=0.5)
        with pytest.raises(ServerError, match="no answer"):
            client.reload("v0001")
    finally:
        listener.close()
