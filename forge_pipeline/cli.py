"""`forge`: conveniences around the pipeline: prepare, detect, plan, serve, chat, ask, rollback."""

import os
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table

from forge_pipeline.lib.base_model import ModelError, resolve_base_model
from forge_pipeline.lib.config import ConfigError, Settings, load_settings
from forge_pipeline.lib.gguf_check import GGUFError, load_llama, validate_gguf
from forge_pipeline.lib.gguf_export import converter_dir
from forge_pipeline.lib.hardware import detect_hardware
from forge_pipeline.lib.layout import Layout
from forge_pipeline.lib.plan import make_plan
from forge_pipeline.lib.registry import ModelRegistry, RegistryError
from forge_pipeline.serving.client import ServerClient, ServerError
from forge_pipeline.serving.names import ADMIN_TOKEN_ENV, MODEL_ALIAS

app = typer.Typer(
    help="Forge: your notes vault, fine-tuned into a local model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
_USER_ERRORS = (ConfigError, ModelError, GGUFError, RegistryError, ServerError, FileNotFoundError)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        _fail(exc)


def _fail(exc: Exception) -> NoReturn:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(1)


@app.command()
def prepare() -> None:
    """Download and prepare the base model and llama.cpp's converter (done once)."""
    settings = _settings()
    try:
        with console.status("Preparing the base model…"):
            model = resolve_base_model(settings)
        with console.status("Fetching llama.cpp's converter…"):
            tools = converter_dir(settings.tools_dir)
    except _USER_ERRORS as exc:
        _fail(exc)
    console.print(f"base model: {model}\nconverter:  {tools}")


@app.command()
def detect() -> None:
    """The GPU as NVML reports it (or the CPU), its architecture and training precision."""
    machine = detect_hardware()
    table = Table("", "", show_header=False, box=None)
    table.add_row("GPU", machine.gpu_name or "none (CPU)")
    if machine.gpu_count:
        table.add_row("VRAM", f"{machine.vram_total_gb} GB ({machine.vram_free_gb} GB free)")
        table.add_row("compute", str(machine.compute_capability))
        table.add_row("driver", str(machine.driver))
    table.add_row("BF16", "yes" if machine.supports_bf16 else "no")
    table.add_row("architecture", machine.architecture)
    table.add_row("precision", machine.precision)
    table.add_row("CPU cores", str(machine.cpu_count))
    console.print(table)


@app.command()
def plan(goal: str = typer.Argument(None, help="What the model is for, in your words.")) -> None:
    """The training plan for this machine and the curated set, and the goal as system prompt."""
    settings = _settings()
    machine = detect_hardware()
    tokens_p95 = Layout(settings).tokens_p95()
    chosen = make_plan(machine, settings.training, tokens_p95)
    console.print(
        f"[bold]{machine.gpu_name or 'CPU'}[/bold] · {machine.architecture} · "
        f"{machine.vram_total_gb} GB VRAM · BF16 {'yes' if machine.supports_bf16 else 'no'}"
    )
    console.print(f"suited model: {chosen.recommended_model}")
    table = Table("knob", "value", "from")
    for row in chosen.rows():
        table.add_row(*row)
    console.print(table)
    if tokens_p95 is None:
        console.print("max_length assumes 256 tokens: materialize curated_dataset to size it.")
    if goal:
        # Offline, the goal is the system prompt as written (with Gemini: see its issue).
        console.print(f"system prompt: {goal!r}\nset it with FORGE_SYSTEM_PROMPT or system_prompt")


@app.command()
def serve(
    host: str = typer.Option(None, help="Default: serving.host (127.0.0.1)."),
    port: int = typer.Option(None, help="Default: serving.port."),
) -> None:
    """Serve the deployed model: OpenAI API, /health, /admin/* (token in FORGE_ADMIN_TOKEN)."""
    import uvicorn

    from forge_pipeline.serving.server import create_forge_app

    settings = _settings()
    serving = settings.serving.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v}
    )
    try:
        application = create_forge_app(
            ModelRegistry(settings.registry_dir), serving, os.environ.get(ADMIN_TOKEN_ENV)
        )
    except _USER_ERRORS as exc:
        _fail(exc)
    if not os.environ.get(ADMIN_TOKEN_ENV):
        console.print(f"[yellow]{ADMIN_TOKEN_ENV} is not set: hot reload is off.[/yellow]")
    console.print(f"Serving model '{MODEL_ALIAS}' on http://{serving.host}:{serving.port}/v1")
    uvicorn.run(application, host=serving.host, port=serving.port, log_level="warning")


@app.command()
def chat(
    url: str = typer.Option(None, help="A running server; default: the current GGUF in process."),
) -> None:
    """Chat in the terminal with history and streaming; empty line or Ctrl-D to leave."""
    settings = _settings()
    history = [{"role": "system", "content": settings.system_prompt}]
    try:
        stream = _server_stream(settings, url) if url else _local_stream(settings)
    except _USER_ERRORS as exc:
        _fail(exc)
    while True:
        try:
            prompt = console.input("[bold]You[/bold]: ").strip()
        except EOFError:
            break
        if not prompt:
            break
        history.append({"role": "user", "content": prompt})
        console.print("[bold]Forge[/bold]: ", end="")
        reply = ""
        for piece in stream(history):
            reply += piece
            console.print(piece, end="", markup=False, highlight=False)
        console.print()
        history.append({"role": "assistant", "content": reply})


def _local_stream(settings: Settings):
    llm = load_llama(
        ModelRegistry(settings.registry_dir).current_model(),
        settings.serving.threads,
        n_ctx=settings.serving.n_ctx,
    )

    def stream(history):
        for chunk in llm.create_chat_completion(messages=history, max_tokens=256, stream=True):
            yield chunk["choices"][0]["delta"].get("content") or ""

    return stream


def _server_stream(settings: Settings, url: str):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url.rstrip('/')}/v1", api_key="local")

    def stream(history):
        for chunk in client.chat.completions.create(
            model=MODEL_ALIAS, messages=history, max_tokens=256, stream=True
        ):
            yield chunk.choices[0].delta.content or ""

    return stream


@app.command()
def ask(prompt: str = typer.Argument(None, help="Defaults to smoke_prompt in forge.yaml.")) -> None:
    """Answer one prompt with the deployed model, in process."""
    settings = _settings()
    prompt = prompt or settings.smoke_prompt
    try:
        registry = ModelRegistry(settings.registry_dir)
        with console.status("Loading the deployed model…"):
            answer = validate_gguf(
                registry.current_model(), prompt, settings.system_prompt, settings.serving.threads
            )
    except _USER_ERRORS as exc:
        _fail(exc)
    console.print(f"[bold]You[/bold] ({registry.current_version()}): {prompt}")
    console.print(f"[bold]Forge[/bold]: {answer.reply}")


@app.command()
def rollback(
    url: str = typer.Option(None, help="Default: the configured server, if it is up."),
) -> None:
    """Make the previous version current again, in the registry and in a running server."""
    settings = _settings()
    try:
        version = ModelRegistry(settings.registry_dir).rollback()
        console.print(f"current model: {version}")
        server = ServerClient.for_settings(settings, url or "")
        if server.is_up():
            server.reload(version)
            console.print(f"server at {server.base_url} now serves {version}")
    except _USER_ERRORS as exc:
        _fail(exc)


@app.command()
def status() -> None:
    """The latest forge_full run in the Dagster instance and the deployed version."""
    import dagster as dg

    settings = _settings()
    os.environ.setdefault("DAGSTER_HOME", str(settings.home / "dagster"))
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="forge_full"), limit=1)
        if runs:
            console.print(f"last forge_full run: {runs[0].run_id} {runs[0].status.value}")
        else:
            console.print("no forge_full run recorded yet")
    version = ModelRegistry(settings.registry_dir).current_version()
    console.print(f"deployed model: {version or 'none'}")


if __name__ == "__main__":
    app()
