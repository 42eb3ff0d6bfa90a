"""`forge serve` as a real process, called by the official openai client and over plain HTTP.

Does not touch: Dagster, training. The model is the tiny test GGUF.
"""

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from openai import OpenAI

from forge_pipeline.lib.export.gguf_export import quantize_gguf
from forge_pipeline.serving.registry import ModelRegistry
from forge_pipeline_tests.helpers import TOKEN, running_server, write_gguf


@pytest.fixture(scope="module")
def served(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A registry holding v0001 (f16) and v0002 (q8_0), and a server started on v0001."""
    home = tmp_path_factory.mktemp("serve-home")
    registry = ModelRegistry(home / "registry")
    registry.activate(registry.register([tiny_gguf], "model-f16.gguf", {})["version"])
    q8 = quantize_gguf(tiny_gguf, tmp_path_factory.mktemp("q8") / "model-q8_0.gguf", "q8_0")
    registry.register([q8], "model-q8_0.gguf", {})
    with running_server(home) as url:
        yield {"url": url, "registry": registry, "home": home}


def admin(served: dict, route: str, body: dict | None = None, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        return requests.get(f"{served['url']}{route}", headers=headers, timeout=60)
    return requests.post(f"{served['url']}{route}", json=body, headers=headers, timeout=60)


def chat(client: OpenAI) -> str:
    answer = client.chat.completions.create(
        model="forge", messages=[{"role": "user", "content": "What did I learn?"}], max_tokens=8
    )
    return answer.choices[0].message.content or ""


def test_openai_client_lists_models_and_chats(served):
    client = OpenAI(base_url=f"{served['url']}/v1", api_key="unused")
    assert [m.id for m in client.models.list().data] == ["forge"]
    answer = client.chat.completions.create(
        model="forge", messages=[{"role": "user", "content": "What did I learn?"}], max_tokens=8
    )
    assert answer.usage.completion_tokens > 0
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="forge",
            messages=[{"role": "user", "content": "Hello"}],
            max_tokens=8,
            stream=True,
        )
    ]
    assert len(pieces) > 1 and "".join(pieces)


def test_logit_bias_is_honoured_streamed_or_not(served, tiny_gguf: Path):
    from llama_cpp import Llama

    vocab = Llama(model_path=str(tiny_gguf), vocab_only=True, verbose=False)
    favoured = vocab.tokenize(b" the", add_bos=False)[-1]
    piece = vocab.detokenize([favoured]).decode()
    vocab.close()
    client = OpenAI(base_url=f"{served['url']}/v1", api_key="unused")
    asked = {
        "model": "forge",
        "messages": [{"role": "user", "content": "What did I learn?"}],
        "max_tokens": 6,
        "logit_bias": {str(favoured): 100},
    }
    answer = client.chat.completions.create(**asked)
    streamed = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(**asked, stream=True)
    ]
    assert answer.choices[0].message.content == piece * 6
    assert "".join(streamed) == piece * 6


def test_health_and_status(served):
    assert requests.get(f"{served['url']}/health", timeout=5).json()["status"] == "ok"
    status = admin(served, "/admin/status").json()
    assert status["version"] in {"v0001", "v0002"}
    assert len(status["sha256"]) == 64 and status["loaded_since"]


@pytest.mark.parametrize(
    ("body", "token", "code", "message"),
    [
        ({"version": "v0001"}, None, 401, "bearer token"),
        ({"version": "v0001"}, "wrong", 401, "bearer token"),
        ({"path": "/etc/passwd"}, TOKEN, 400, "not a file inside the model registry"),
        ({"version": "v0999"}, TOKEN, 400, "not in"),
        ({"version": "../../x"}, TOKEN, 400, "not a version name"),
    ],
)
def test_bad_reload_requests_are_refused_and_the_model_keeps_serving(
    served, body, token, code, message
):
    before = admin(served, "/admin/status").json()
    answer = admin(served, "/admin/reload-model", body, token)
    assert answer.status_code == code and message in answer.json()["detail"]
    assert admin(served, "/admin/status").json() == before
    assert chat(OpenAI(base_url=f"{served['url']}/v1", api_key="x")) is not None


@pytest.mark.parametrize("kind", ["corrupt", "adapter"])
def test_bad_model_files_never_replace_a_good_one(served, tmp_path: Path, kind: str):
    registry: ModelRegistry = served["registry"]
    if kind == "corrupt":
        bad = tmp_path / "model-bad.gguf"
        bad.write_bytes(b"GGUF" + os.urandom(4096))
    else:
        bad = write_gguf(tmp_path / "model-bad.gguf", "adapter", "{{ x }}")
    version = registry.register([bad], bad.name, {})["version"]
    before = admin(served, "/admin/status").json()
    answer = admin(served, "/admin/reload-model", {"version": version})
    assert answer.status_code == 422
    assert "previous model keeps serving" in answer.json()["detail"]
    assert admin(served, "/admin/status").json() == before
    assert chat(OpenAI(base_url=f"{served['url']}/v1", api_key="x")) is not None
    shutil.rmtree(registry.versions_dir / version)


def test_reload_under_load_loses_no_request(served):
    client = OpenAI(base_url=f"{served['url']}/v1", api_key="x", max_retries=0, timeout=60)
    failures: list[str] = []
    done = threading.Event()
    completed = [0]

    def keep_asking() -> None:
        deadline = time.monotonic() + 60  # bounded even if the reload hangs
        while not done.is_set() and time.monotonic() < deadline:
            try:
                chat(client)
                completed[0] += 1
            except Exception as exc:  # every kind of failure counts
                failures.append(repr(exc))

    workers = [threading.Thread(target=keep_asking) for _ in range(3)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)
    reloads = [admin(served, "/admin/reload-model", {"version": v}) for v in ("v0002", "v0001")]
    time.sleep(1.0)
    done.set()
    for worker in workers:
        worker.join()
    assert [r.status_code for r in reloads] == [200, 200]
    assert reloads[0].json()["version"] == "v0002" and reloads[1].json()["version"] == "v0001"
    assert failures == []
    assert completed[0] >= 3


def test_forge_rollback_restores_the_previous_version_in_registry_and_server(
    tiny_gguf: Path, tmp_path: Path
):
    registry = ModelRegistry(tmp_path / "registry")
    for _ in range(2):
        registry.activate(registry.register([tiny_gguf], "model-f16.gguf", {})["version"])
    with running_server(tmp_path) as url:
        assert admin({"url": url}, "/admin/status").json()["version"] == "v0002"
        proc = subprocess.run(
            [sys.executable, "-m", "forge_pipeline.cli", "rollback", "--url", url],
            env={**os.environ, "FORGE_HOME": str(tmp_path), "FORGE_ADMIN_TOKEN": TOKEN},
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert registry.current_version() == "v0001"
        assert admin({"url": url}, "/admin/status").json()["version"] == "v0001"
    proc = subprocess.run(
        [sys.executable, "-m", "forge_pipeline.cli", "rollback", "--url", "http://127.0.0.1:9"],
        env={**os.environ, "FORGE_HOME": str(tmp_path / "empty")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and "No previous version" in proc.stdout


@pytest.mark.parametrize(
    ("command", "through_server"), [("chat", False), ("chat", True), ("inference", False)]
)
def test_forge_chat_keeps_history_and_streams(served, command: str, through_server: bool):
    args = ["--url", served["url"]] if through_server else []
    proc = subprocess.run(
        [sys.executable, "-m", "forge_pipeline.cli", command, *args],
        input="What did I learn?\nAnd why?\n\n",
        env={**os.environ, "FORGE_HOME": str(served["home"]), "FORGE_SERVING_N_CTX": "512"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("Forge:") == 2


def test_forge_serve_has_idle_llama_threads_sleep_soon_unless_the_user_says(served):
    # libgomp reads GOMP_SPINCOUNT once, as llama.cpp loads: `forge serve` must set it first.
    script = (
        "import ctypes, uvicorn\n"
        "from forge_pipeline.cli import app\n"
        "uvicorn.run = lambda *args, **kwargs: ctypes.CDLL('libgomp.so.1').omp_display_env(1)\n"
        "app(['serve'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    env["FORGE_HOME"] = str(served["home"])
    for users, expected in ((None, "10000"), ("500", "500")):
        run_env = {**env, "GOMP_SPINCOUNT": users} if users else env
        done = subprocess.run(
            [sys.executable, "-c", script], env=run_env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"GOMP_SPINCOUNT = '{expected}'" in done.stderr


def test_the_app_makes_every_blocking_call_on_one_worker_thread(served):
    # A second thread calling llama.cpp brings its own OpenMP threads, and on a small machine
    # libgomp then stops spinning at llama.cpp's barriers: every token gets slower.
    import anyio
    from starlette.testclient import TestClient

    from forge_pipeline.lib.core.config import Serving
    from forge_pipeline.serving.server import create_forge_app

    async def threads_of_concurrent_calls() -> set[int]:
        idents: set[int] = set()

        def record() -> None:
            time.sleep(0.01)  # long enough that the calls overlap, if they may
            idents.add(threading.get_ident())

        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(anyio.to_thread.run_sync, record)
        return idents

    app = create_forge_app(served["registry"], Serving(threads=1, n_ctx=512), None)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        assert client.get("/health").json()["status"] == "ok"
        assert client.portal is not None
        assert len(client.portal.call(threads_of_concurrent_calls)) == 1
