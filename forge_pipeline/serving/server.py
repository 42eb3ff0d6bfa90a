"""`forge serve`: llama-cpp-python's OpenAI-compatible server plus health, status and hot reload.

A reload loads and smoke-tests the new model beside the old one, then swaps it in under the
server's own locks, so requests wait a moment instead of failing; any failure keeps the old model.
Every request passes the Guard first (serving/guard.py): hosts, origins, keys and sizes.
"""

import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import llama_cpp.server.app as llama_app
from fastapi import Body, FastAPI, Header, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from llama_cpp import Llama, LogitsProcessorList
from llama_cpp.server.model import LlamaProxy
from llama_cpp.server.settings import ModelSettings, ServerSettings
from starlette.types import Lifespan

from forge_pipeline.lib.core.artifacts import sha256_file
from forge_pipeline.lib.core.config import Serving
from forge_pipeline.lib.export.gguf_check import GGUFError, inspect_gguf, token_cap
from forge_pipeline.serving.guard import Door, Guard, bearer_matches
from forge_pipeline.serving.names import ADMIN_TOKEN_ENV, MODEL_ALIAS
from forge_pipeline.serving.registry import ModelRegistry, RegistryError


@dataclass
class Served:
    """What the server is answering with right now."""

    version: str | None
    path: str
    sha256: str
    loaded_since: str


def _model_settings(path: Path, serving: Serving) -> ModelSettings:
    threads = serving.threads or -1  # -1: llama-cpp-python uses every core
    return ModelSettings(
        model=str(path),
        model_alias=MODEL_ALIAS,
        n_ctx=serving.n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )


def _served(path: Path, registry: ModelRegistry) -> Served:
    version = path.parent.name if registry.contains(path) else None
    return Served(
        version, str(path), sha256_file(path), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )


def _load_and_smoke_test(path: Path, serving: Serving) -> LlamaProxy:
    """Load a model beside the serving one and make it produce a token, or raise GGUFError."""
    inspect_gguf(path)
    try:
        proxy = LlamaProxy(models=[_model_settings(path, serving)])
        llm = proxy(MODEL_ALIAS)
        _cap_replies(llm, serving.max_tokens)
        llm.create_chat_completion(
            messages=[{"role": "user", "content": "Hello"}],
            max_tokens=1,
            logits_processor=token_cap(llm, 1),
        )
    except (ValueError, RuntimeError) as exc:
        raise GGUFError(f"llama.cpp cannot load {path} ({exc}).") from exc
    return proxy


class _LogitBias:
    """A request's logit_bias as a logits processor: adds each bias to its token's score."""

    def __init__(self, bias: dict):
        self.bias = {int(token): float(value) for token, value in bias.items()}

    def __call__(self, input_ids, scores):
        for token, value in self.bias.items():
            scores[token] += value
        return scores


def _cap_replies(llm: Llama, ceiling: int) -> None:
    """End every reply of this model by `ceiling` tokens, even inside a UTF-8 character.

    Patched on the instance's create_completion because every route reaches it (chat ones
    through the chat handler), while the streaming routes call Llama's methods unbound.
    A request's logit_bias is applied here too: given processors as well, llama-cpp-python
    0.3 drops both (`logits_processor = logits_processor.extend(...)`, and extend returns None).
    """
    complete = llm.create_completion

    def capped(
        *args: Any,
        max_tokens: int | None = None,
        logits_processor=None,
        logit_bias: dict | None = None,
        **kwargs: Any,
    ):
        limit = min(max_tokens, ceiling) if max_tokens and max_tokens > 0 else ceiling
        biased = [_LogitBias(logit_bias)] if logit_bias else []
        processors = LogitsProcessorList(
            [*biased, *(logits_processor or []), *token_cap(llm, limit)]
        )
        return complete(*args, max_tokens=limit, logits_processor=processors, **kwargs)

    llm.create_completion = capped


def _on_one_worker_thread(lifespan: Lifespan) -> Lifespan:
    """The app's lifespan, with every blocking call (each llama.cpp one) on one worker thread.

    Each thread that calls llama.cpp keeps its own OpenMP threads; once they outnumber the cores
    (a second thread, after a sync route ran beside a stream), libgomp stops spinning at every
    barrier of every token: streamed beside a /health poll, the API ran at half its speed.
    """

    @asynccontextmanager
    async def one_thread(app: Any) -> AsyncIterator[Any]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        async with lifespan(app) as state:
            yield state

    return one_thread


def create_forge_app(
    registry: ModelRegistry, serving: Serving, admin_token: str | None, api_key: str | None = None
) -> FastAPI:
    """The OpenAI-compatible app serving the registry's current model, with admin routes."""
    door = Door.for_serving(serving, api_key)
    path = registry.current_model()
    inspect_gguf(path)
    app = llama_app.create_app(
        # No interrupts: a reload waiting for the lock must not cut off a streaming answer.
        server_settings=ServerSettings(
            host=serving.host, port=serving.port, interrupt_requests=False
        ),
        model_settings=[_model_settings(path, serving)],
    )
    # llama-cpp-python lets every origin read every answer; Forge lists its origins instead.
    app.user_middleware = [m for m in app.user_middleware if m.cls is not CORSMiddleware]
    if door.origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=sorted(door.origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(Guard, door=door)  # added last, so it runs first
    proxy = llama_app._llama_proxy
    assert proxy is not None  # create_app has just loaded it
    _cap_replies(proxy(MODEL_ALIAS), serving.max_tokens)
    app.router.lifespan_context = _on_one_worker_thread(app.router.lifespan_context)
    state = {"served": _served(path, registry)}
    reloading = anyio.Lock()

    def authorize(authorization: str | None) -> None:
        if not admin_token:
            raise HTTPException(503, f"Admin routes are off: set {ADMIN_TOKEN_ENV} for the server.")
        if not bearer_matches(authorization, admin_token):
            raise HTTPException(401, "Missing or wrong bearer token for the admin routes.")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "version": state["served"].version}

    @app.get("/admin/status")
    def admin_status(authorization: str | None = Header(default=None)) -> dict:
        authorize(authorization)
        return asdict(state["served"])

    @app.post("/admin/reload-model")
    async def reload_model(
        authorization: str | None = Header(default=None),
        version: str | None = Body(default=None, embed=True),
        path: str | None = Body(default=None, embed=True),
    ) -> dict:
        authorize(authorization)
        if reloading.locked():
            raise HTTPException(409, "Another reload is in progress; try again when it ends.")
        async with reloading:
            return await reload(version, path)

    async def reload(version: str | None, path: str | None) -> dict:
        try:
            target = _reload_target(registry, version, path)
        except RegistryError as exc:
            raise HTTPException(400, str(exc)) from exc
        started = time.perf_counter()
        try:
            proxy = await anyio.to_thread.run_sync(_load_and_smoke_test, target, serving)
        except GGUFError as exc:
            raise HTTPException(422, f"{exc} The previous model keeps serving.") from exc
        served = await anyio.to_thread.run_sync(_served, target, registry)
        async with llama_app.llama_outer_lock, llama_app.llama_inner_lock:
            old, llama_app._llama_proxy = llama_app._llama_proxy, proxy
        if old is not None:
            old.free()
        state["served"] = served
        return {
            "status": "reloaded",
            **asdict(state["served"]),
            "reload_s": round(time.perf_counter() - started, 3),
        }

    return app


def _reload_target(registry: ModelRegistry, version: str | None, path: str | None) -> Path:
    """The GGUF to load: a version, a path inside the registry, or the current model."""
    if version:
        return registry.model_path(version)
    if path:
        if not registry.contains(Path(path)):
            raise RegistryError(f"{path} is not a file inside the model registry {registry.root}.")
        return Path(path).resolve()
    return registry.current_model()
