"""What the tests share beyond fixtures: paths, the chain's asset keys, run helpers, a server."""

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import requests

from forge_pipeline.lib.core.config import PROJECT_ROOT, load_settings
from forge_pipeline.lib.dataset.reflections import examples_from_note
from forge_pipeline.lib.vault.scan import scan_vault

SAMPLE_VAULT = PROJECT_ROOT / "examples" / "vault"
SHARED_CACHE = PROJECT_ROOT / ".forge" / "cache"
# The assets up to the curated set, which training starts from.
UPSTREAM = ["vault_notes", "reflection_examples", "dataset_examples", "curated_dataset"]
CHAIN = [
    "vault_notes",
    "reflection_examples",
    "curated_dataset",
    "lora_adapter",
    "merged_model",
    "gguf_model",
    "model_evaluation",
    "deployed_model",
]
BESIDE_CHAIN = ["dataset_examples", "dataset_study"]  # a second input, and a report on the set


def sample_texts() -> list[str]:
    """The system prompt and every turn of the sample vault's reflections: tokenizer food."""
    settings = load_settings()
    texts = [settings.system_prompt]
    for note in scan_vault(SAMPLE_VAULT).notes:
        for example in examples_from_note(note, settings.extraction, settings.system_prompt):
            texts.extend(m["content"] for m in example["messages"][1:])
    return texts


def tiny_overrides(tiny_model: Path, **extra: str) -> dict[str, str]:
    """Run-config overrides that make the whole chain train the tiny model in seconds."""
    return {
        "base_model": str(tiny_model),
        "training.max_steps": "30",
        "training.batch_size": "8",
        "training.learning_rate": "0.005",
        "training.max_length": "128",
        "curation.min_examples": "20",
        # Two random layers stop by chance, not by training: the stop gate has its own tests.
        "evaluation.stop_margin": "1.0",
        "evaluation.questions": "8",  # the default asks 48 to compare voices; 8 test the gates
        **extra,
    }


def write_gguf(path: Path, general_type: str, chat_template: str | None) -> Path:
    """A small header-only GGUF with the given type and template, for refusal tests."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_type(general_type)
    if chat_template:
        writer.add_chat_template(chat_template)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def materialize_assets(
    overrides: dict[str, str],
    selection: list[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    server_url: str = "http://127.0.0.1:9",
    gemini_key: str = "",
) -> dg.ExecuteInProcessResult:
    """Materialize Forge's assets in process; by default no model server and no Gemini."""
    from forge_pipeline.definitions import defs
    from forge_pipeline.defs.resources import (
        ForgeResource,
        GeminiResource,
        HardwareResource,
        ModelServerResource,
    )
    from forge_pipeline.defs.training.launcher import TrainerLauncher

    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    return dg.materialize(
        assets,
        selection=selection,
        instance=instance,
        resources={
            "forge": ForgeResource(overrides=overrides),
            "hardware": HardwareResource(),
            "trainer": TrainerLauncher(),
            "model_server": ModelServerResource(url=server_url),
            "gemini": GeminiResource(api_key=gemini_key),
        },
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    """Plain metadata values of an asset's first materialization in this run."""
    event = result.asset_materializations_for_node(asset)[0]
    return {key: getattr(value, "value", value) for key, value in event.metadata.items()}


def vault_digest(vault: Path) -> str:
    """Names, bytes and modification times of every file under a folder."""
    digest = hashlib.sha256()
    for path in sorted(vault.rglob("*")):
        if path.is_file():
            digest.update(f"{path}:{path.stat().st_mtime_ns}:".encode() + path.read_bytes())
    return digest.hexdigest()


TOKEN = "test-admin-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str, timeout: float = 10) -> dict:
    """The data of one GraphQL query to a Dagster webserver."""
    answer = requests.post(f"{url}/graphql", json={"query": query}, timeout=timeout)
    answer.raise_for_status()
    return answer.json()["data"]


@contextmanager
def running_server(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`forge serve` on a free loopback port for FORGE_HOME=home; yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "FORGE_HOME": str(home),
        "FORGE_ADMIN_TOKEN": TOKEN,
        "FORGE_SERVING_THREADS": "1",
        "FORGE_SERVING_N_CTX": "512",
        **(extra_env or {}),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "forge_pipeline.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"server did not start: {server.communicate()[0][-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=1).ok
    except requests.ConnectionError:
        return False
