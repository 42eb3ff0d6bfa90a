"""Who can reach the served model: foreign web pages, Host names and keyless clients are refused.

A real `forge serve` with an API key, one allowed origin and a small reply ceiling, called by the
official openai client and over plain HTTP. Does not touch: Dagster, training.
"""

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import requests
from openai import OpenAI

from forge_pipeline.lib.core.config import ConfigError, Serving
from forge_pipeline.serving.guard import Door, host_name
from forge_pipeline.serving.registry import ModelRegistry
from forge_pipeline_tests.helpers import TOKEN, running_server

KEY = "key-for-the-guard-tests"
FRIEND = "https://notes.example"
CEILING = 6


@pytest.fixture(scope="module")
def guarded(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server holding v0001 and v0002, with a key, one allowed origin and a reply ceiling."""
    home = tmp_path_factory.mktemp("guarded-home")
    registry = ModelRegistry(home / "registry")
    for _ in range(2):
        registry.activate(registry.register([tiny_gguf], "model-f16.gguf", {})["version"])
    env = {
        "FORGE_API_KEY": KEY,
        "FORGE_SERVING_ALLOWED_ORIGINS": json.dumps([FRIEND]),
        "FORGE_SERVING_MAX_TOKENS": str(CEILING),
    }
    with running_server(home, env) as url:
        yield url


def ask(url: str, headers: dict[str, str], body: dict | None = None) -> requests.Response:
    body = body or {"model": "forge", "messages": [{"role": "user", "content": "Hi"}]}
    return requests.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=60)


def test_the_openai_client_needs_the_key(guarded: str):
    right = OpenAI(base_url=f"{guarded}/v1", api_key=KEY, max_retries=0)
    answer = right.chat.completions.create(
        model="forge", messages=[{"role": "user", "content": "What did I learn?"}], max_tokens=4
    )
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    wrong = OpenAI(base_url=f"{guarded}/v1", api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    assert requests.get(f"{guarded}/v1/models", timeout=10).status_code == 401
    assert (
        requests.post(f"{guarded}/extras/tokenize", json={"input": "x"}, timeout=10).status_code
        == 401
    )
    assert requests.get(f"{guarded}/health", timeout=10).ok  # health tells nothing of the notes


def test_a_foreign_origin_is_refused_preflight_and_post(guarded: str):
    preflight = requests.options(
        f"{guarded}/v1/chat/completions",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    post = ask(guarded, {"Origin": "https://evil.example", "Authorization": f"Bearer {KEY}"})
    assert post.status_code == 403 and "evil.example" in post.json()["detail"]
    assert "access-control-allow-origin" not in post.headers


def test_an_allowed_origin_gets_cors_without_credentials(guarded: str):
    preflight = requests.options(
        f"{guarded}/v1/chat/completions",
        headers={
            "Origin": FRIEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == FRIEND
    assert "access-control-allow-credentials" not in preflight.headers
    post = ask(guarded, {"Origin": FRIEND, "Authorization": f"Bearer {KEY}"})
    assert post.ok and post.headers["access-control-allow-origin"] == FRIEND


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "192.168.1.20"])
def test_a_foreign_host_is_refused(guarded: str, host: str):
    answer = ask(guarded, {"Host": host, "Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 421 and "serving.allowed_hosts" in answer.json()["detail"]
    assert requests.get(f"{guarded}/health", headers={"Host": host}, timeout=10).status_code == 421


@pytest.mark.parametrize("asked", [None, 500, 0, "many"])
def test_replies_stop_at_the_ceiling_whatever_is_asked(guarded: str, asked):
    body: dict = {"model": "forge", "messages": [{"role": "user", "content": "Tell me all."}]}
    if asked is not None:
        body["max_tokens"] = asked
    answer = ask(guarded, {"Authorization": f"Bearer {KEY}"}, body)
    assert answer.ok, answer.text
    assert answer.json()["usage"]["completion_tokens"] <= CEILING


def test_streamed_replies_stop_at_the_ceiling_too(guarded: str):
    client = OpenAI(base_url=f"{guarded}/v1", api_key=KEY, max_retries=0)
    chunks = [
        chunk.choices[0].delta.content
        for chunk in client.chat.completions.create(
            model="forge",
            messages=[{"role": "user", "content": "Tell me all."}],
            max_tokens=400,
            stream=True,
        )
        if chunk.choices and chunk.choices[0].delta.content
    ]
    assert 0 < len(chunks) <= CEILING


def test_a_body_over_the_limit_is_refused(guarded: str):
    huge = {"model": "forge", "messages": [{"role": "user", "content": "x" * 300_000}]}
    answer = ask(guarded, {"Authorization": f"Bearer {KEY}"}, huge)
    assert answer.status_code == 413 and "max_body_kb" in answer.json()["detail"]

    def chunked() -> Iterator[bytes]:
        yield b'{"model": "forge", "messages": [{"role": "user", "content": "'
        for _ in range(300):
            yield b"y" * 1024
        yield b'"}]}'

    streamed = requests.post(
        f"{guarded}/v1/chat/completions",
        data=chunked(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert streamed.status_code == 413


def test_reloads_run_one_at_a_time_and_need_bearer(guarded: str):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    bare = requests.post(
        f"{guarded}/admin/reload-model", json={}, headers={"Authorization": TOKEN}, timeout=60
    )
    assert bare.status_code == 401
    start = threading.Barrier(3)
    codes: list[int] = []

    def reload(version: str) -> None:
        start.wait()
        answer = requests.post(
            f"{guarded}/admin/reload-model", json={"version": version}, headers=headers, timeout=120
        )
        codes.append(answer.status_code)

    threads = [threading.Thread(target=reload, args=(v,)) for v in ("v0001", "v0002", "v0001")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes)[0] == 200 and 409 in codes and set(codes) <= {200, 409}


@pytest.mark.parametrize(
    ("header", "name"),
    [("127.0.0.1:8765", "127.0.0.1"), ("[::1]:8765", "::1"), ("LocalHost", "localhost")],
)
def test_host_names_are_read_without_their_port(header: str, name: str):
    assert host_name(header) == name


def test_binding_beyond_loopback_needs_a_key():
    with pytest.raises(ConfigError, match="FORGE_API_KEY"):
        Door.for_serving(Serving(host="0.0.0.0"), api_key=None)
    door = Door.for_serving(Serving(host="0.0.0.0", allowed_hosts=["studio.lan"]), api_key="k")
    assert door.refusal("GET", "/health", {"host": "studio.lan:8765"}) is None
    assert door.refusal("GET", "/health", {"host": "0.0.0.0"}) is not None
