"""`forge serve`, `chat`, `ask`, `rollback`: the deployed model."""

import os
from collections.abc import Callable

import typer

from forge_pipeline.cli.app import (
    USER_ERRORS,
    app,
    console,
    current_settings,
    fail,
)
from forge_pipeline.lib.core.config import (
    Settings,
)
from forge_pipeline.lib.export.gguf_check import load_llama, token_cap, validate_gguf
from forge_pipeline.serving.client import ServerClient, ServerError
from forge_pipeline.serving.guard import is_loopback
from forge_pipeline.serving.idle_threads import spin_briefly_when_idle
from forge_pipeline.serving.names import ADMIN_TOKEN_ENV, API_KEY_ENV, MODEL_ALIAS
from forge_pipeline.serving.registry import ModelRegistry


@app.command(rich_help_panel="Model")
def serve(
    host: str = typer.Option(None, help="Default: serving.host (127.0.0.1)."),
    port: int = typer.Option(None, help="Default: serving.port."),
) -> None:
    """Serve the deployed model: OpenAI API, /health, /admin/* (token in FORGE_ADMIN_TOKEN)."""
    spin_briefly_when_idle()  # before the server's import loads llama.cpp
    import uvicorn

    from forge_pipeline.serving.server import create_forge_app

    settings = current_settings()
    serving = settings.serving.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v}
    )
    try:
        application = create_forge_app(
            ModelRegistry(settings.registry_dir),
            serving,
            os.environ.get(ADMIN_TOKEN_ENV),
            os.environ.get(API_KEY_ENV),
        )
    except USER_ERRORS as exc:
        fail(exc)
    if not os.environ.get(ADMIN_TOKEN_ENV):
        console.print(f"[yellow]{ADMIN_TOKEN_ENV} is not set: hot reload is off.[/yellow]")
    if not is_loopback(serving.host):
        console.print(
            f"[yellow]Bound to {serving.host}: other machines can reach the model of your notes; "
            f"/v1 asks for {API_KEY_ENV}.[/yellow]"
        )
    console.print(f"Serving model '{MODEL_ALIAS}' on http://{serving.host}:{serving.port}/v1")
    uvicorn.run(application, host=serving.host, port=serving.port, log_level="warning")


@app.command(rich_help_panel="Model")
def chat(
    url: str = typer.Option(None, help="A running server; default: the current GGUF in process."),
) -> None:
    """Chat in the terminal with history and streaming; empty line or Ctrl-D to leave."""
    settings = current_settings()
    history = [{"role": "system", "content": settings.system_prompt}]
    try:
        stream, count = _server_stream(settings, url) if url else _local_stream(settings)
    except USER_ERRORS as exc:
        fail(exc)
    while True:
        try:
            prompt = console.input("[bold]You[/bold]: ").strip()
        except EOFError:
            break
        if not prompt:
            break
        history.append({"role": "user", "content": prompt})
        history = recent_history(history, settings.serving.n_ctx, count)
        console.print("[bold]Forge[/bold]: ", end="")
        reply = ""
        for piece in stream(history):
            reply += piece
            console.print(piece, end="", markup=False, highlight=False)
        console.print()
        history.append({"role": "assistant", "content": reply})


REPLY_TOKENS = 256
TURN_MARKER_TOKENS = 8  # the chat template's markers around each turn


def recent_history(
    history: list[dict[str, str]], n_ctx: int, count_tokens: Callable[[str], int]
) -> list[dict[str, str]]:
    """The system turn and as many of the latest turns as leave room for a reply in n_ctx."""
    budget = n_ctx - REPLY_TOKENS - count_tokens(history[0]["content"]) - TURN_MARKER_TOKENS
    kept: list[dict[str, str]] = []
    for turn in reversed(history[1:]):
        budget -= count_tokens(turn["content"]) + TURN_MARKER_TOKENS
        if budget < 0 and kept:
            break
        kept.insert(0, turn)
    return [history[0], *kept]


def _estimated_tokens(text: str) -> int:
    return len(text) // 3 + 1  # a cautious average where no tokenizer is at hand


def _local_stream(settings: Settings):
    llm = load_llama(
        ModelRegistry(settings.registry_dir).current_model(),
        settings.serving.threads,
        n_ctx=settings.serving.n_ctx,
    )

    def stream(history):
        chunks = llm.create_chat_completion(
            messages=history,
            max_tokens=REPLY_TOKENS,
            stream=True,
            logits_processor=token_cap(llm, REPLY_TOKENS),
        )
        assert not isinstance(chunks, dict)  # streamed: an iterator of chunks
        for chunk in chunks:
            yield chunk["choices"][0]["delta"].get("content") or ""

    def count(text: str) -> int:
        return len(llm.tokenize(text.encode(), add_bos=False, special=True))

    return stream, count


def _server_stream(settings: Settings, url: str):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url.rstrip('/')}/v1", api_key=os.environ.get(API_KEY_ENV, "local"))

    def stream(history):
        for chunk in client.chat.completions.create(
            model=MODEL_ALIAS, messages=history, max_tokens=REPLY_TOKENS, stream=True
        ):
            yield chunk.choices[0].delta.content or ""

    return stream, _estimated_tokens


@app.command(rich_help_panel="Model")
def inference(
    url: str = typer.Option(None, help="A running server; default: the current GGUF in process."),
) -> None:
    """The same as `forge chat` (the Forge CLI's old name for it)."""
    chat(url)


@app.command(rich_help_panel="Model")
def ask(prompt: str = typer.Argument(None, help="Defaults to smoke_prompt in forge.yaml.")) -> None:
    """Answer one prompt with the deployed model, in process."""
    settings = current_settings()
    prompt = prompt or settings.smoke_prompt
    try:
        registry = ModelRegistry(settings.registry_dir)
        with console.status("Loading the deployed model…"):
            answer = validate_gguf(
                registry.current_model(), prompt, settings.system_prompt, settings.serving.threads
            )
    except USER_ERRORS as exc:
        fail(exc)
    console.print(f"[bold]You[/bold] ({registry.current_version()}): {prompt}")
    console.print(f"[bold]Forge[/bold]: {answer.reply}")


@app.command(rich_help_panel="Model")
def rollback(
    url: str = typer.Option(None, help="Default: the configured server, if it is up."),
) -> None:
    """Make the previous version current again, in the registry and in a running server."""
    settings = current_settings()
    try:
        version = ModelRegistry(settings.registry_dir).rollback()
    except USER_ERRORS as exc:
        fail(exc)
    console.print(f"current model: {version}")
    server = ServerClient.for_settings(settings, url or "")
    if not server.is_up():
        return
    try:
        server.reload(version)
    except ServerError as exc:
        fail(
            ServerError(
                f"The registry now serves {version}, but the server at {server.base_url} did "
                f"not reload ({exc}); restart `forge serve` to serve it."
            )
        )
    console.print(f"server at {server.base_url} now serves {version}")
