"""`forge`: conveniences around the pipeline: init, prepare, detect, plan, run, serve, chat, …"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from forge_pipeline.lib.artifacts import atomic_file
from forge_pipeline.lib.base_model import ModelError, resolve_base_model
from forge_pipeline.lib.config import (
    PROJECT_ROOT,
    ConfigError,
    Settings,
    config_path,
    load_settings,
)
from forge_pipeline.lib.containers import (
    ContainerError,
    container_logs,
    forge_containers,
    remove_containers,
)
from forge_pipeline.lib.copilot import check_key, plan_for_goal
from forge_pipeline.lib.docker_images import build_command, image_tag
from forge_pipeline.lib.gemini import KEY_ENV, GeminiClient, GeminiError, GeminiKeyError
from forge_pipeline.lib.gguf_check import GGUFError, load_llama, token_cap, validate_gguf
from forge_pipeline.lib.gguf_export import converter_dir
from forge_pipeline.lib.hardware import detect_hardware
from forge_pipeline.lib.layout import Layout
from forge_pipeline.lib.plan import make_plan
from forge_pipeline.lib.registry import ModelRegistry, RegistryError
from forge_pipeline.lib.yaml_edit import set_value
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
def init(
    vault: Annotated[
        Path | None, typer.Option(help="Your notes vault; Forge only ever reads it.")
    ] = None,
    share_notes: bool = typer.Option(
        None,
        "--share-notes/--no-share-notes",
        help="Let Gemini see redacted, capped samples of your notes (off by default).",
    ),
    gemini_model: str = typer.Option(None, help="The Gemini model, e.g. gemini-2.5-flash."),
) -> None:
    """Write your choices to forge.yaml (never the key), and check GEMINI_API_KEY if it is set."""
    path = config_path()
    text = path.read_text(encoding="utf-8") if path.exists() else _template()
    chosen = {
        "vault": str(vault.expanduser().resolve()) if vault else None,
        "gemini.share_notes": share_notes,
        "gemini.model": gemini_model,
    }
    for dotted, value in chosen.items():
        if value is not None:
            text = set_value(text, dotted, value)
    try:
        with atomic_file(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
            settings = load_settings(tmp)  # a bad value leaves forge.yaml as it was
    except ConfigError as exc:
        _fail(exc)
    console.print(f"settings: {path}")
    if not settings.vault.is_dir():
        console.print(f"[yellow]vault {settings.vault} does not exist yet: use --vault.[/yellow]")
    else:
        console.print(f"vault:    {settings.vault} (read-only)")
    console.print(f"Dagster:  {_dagster_home(settings)}")
    key = os.environ.get(KEY_ENV, "")
    if not key:
        console.print(f"Gemini:   off ({KEY_ENV} is not set); every step runs offline.")
        return
    try:
        with console.status("Checking the Gemini key…"):
            check_key(GeminiClient(key, settings.gemini))
    except GeminiKeyError as exc:
        _fail(exc)
    except GeminiError as exc:
        console.print(f"[yellow]Gemini could not be checked now: {exc}[/yellow]")
        return
    shared = "redacted samples" if settings.gemini.share_notes else "never (gemini.share_notes)"
    console.print(f"Gemini:   the key works ({settings.gemini.model}); notes shared: {shared}")


def _template() -> str:
    return (PROJECT_ROOT / "forge.yaml").read_text(encoding="utf-8")


def _dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME (default: FORGE_HOME/dagster) with Forge's dagster.yaml in it."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.home / "dagster")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


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
        _plan_goal(settings, goal)


def _plan_goal(settings: Settings, goal: str) -> None:
    """The goal as a system prompt: Gemini's (only the goal is sent), else the goal as written."""
    prompt, key = goal, os.environ.get(KEY_ENV, "")
    if key:
        try:
            with console.status("Asking Gemini to plan for the goal…"):
                answer, accepted, refused = plan_for_goal(
                    GeminiClient(key, settings.gemini), goal, settings.training.max_steps
                )
        except GeminiError as exc:
            console.print(f"[yellow]{exc} Using the goal as written.[/yellow]")
        else:
            prompt = answer.system_prompt
            for knob, value in accepted.items():
                console.print(f"Gemini suggests training.{knob}: {value}  ({answer.reason})")
            if refused:
                console.print(f"Refused (outside Forge's bounds): {', '.join(refused)}")
    console.print(f"system prompt: {prompt!r}\nset it with FORGE_SYSTEM_PROMPT or system_prompt")


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
        chunks = llm.create_chat_completion(
            messages=history, max_tokens=256, stream=True, logits_processor=token_cap(llm, 256)
        )
        for chunk in chunks:
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


# `dagster job execute` of the whole chain, as CI and `make run` call it.
EXECUTE_FORGE_FULL = ["job", "execute", "-m", "forge_pipeline.definitions", "-j", "forge_full"]
STEP_EVENT = re.compile(r" - ([\w.]+) - (STEP_START|STEP_SUCCESS|STEP_FAILURE|STEP_SKIPPED) - ")
DONE = {"STEP_SUCCESS": "done", "STEP_SKIPPED": "skipped (unchanged)", "STEP_FAILURE": "failed"}


@app.command()
def run() -> None:
    """Materialize the whole chain (job forge_full) with progress, as `dagster job execute` does."""
    from forge_pipeline.definitions import defs

    settings = _settings()
    _dagster_home(settings)
    steps = [k.to_user_string() for k in defs.resolve_asset_graph().toposorted_asset_keys]
    log = settings.home / "logs" / f"forge-run-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [_tool("dagster"), *EXECUTE_FORGE_FULL]
    outcome: dict[str, str] = {}
    with Progress(console=console, transient=True) as progress, log.open("w") as record:
        bar = progress.add_task("starting forge_full", total=len(steps))
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in process.stdout or []:
            record.write(line)
            if match := STEP_EVENT.search(line):
                step, event = match.groups()
                if event == "STEP_START":
                    progress.update(bar, description=step)
                else:
                    outcome[step] = DONE[event]
                    progress.update(bar, completed=len(outcome))
        code = process.wait()
    table = Table("asset", "outcome")
    for step in steps:
        table.add_row(step, outcome.get(step, "not run"))
    console.print(table)
    if code:
        _fail(RuntimeError(f"forge_full failed; the run's log is {log} (or open `forge ui`)."))
    console.print(f"forge_full succeeded; log: {log}")


def _tool(name: str) -> str:
    """A console script installed beside this Python (the project's virtualenv)."""
    return str(Path(sys.executable).parent / name)


@app.command()
def ui(port: int = typer.Option(3000, help="The web UI's port on 127.0.0.1.")) -> None:
    """The Dagster web UI and daemon (`dagster dev`) on 127.0.0.1 with this project's workspace."""
    settings = _settings()
    home = _dagster_home(settings)
    nux = home / ".nux" / "nux.yaml"  # without it the UI opens with a "join the community" pop-up
    nux.parent.mkdir(exist_ok=True)
    nux.write_text("seen: 1\n")
    console.print(f"Dagster UI: http://127.0.0.1:{port} (instance {home}); Ctrl-C stops it")
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    dagster = _tool("dagster")
    # Started from a script without job control, a process inherits ignored SIGINT/SIGTERM,
    # and dagster dev then cannot be stopped: give it the default handlers back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.execv(dagster, [dagster, "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(port)])


docker_app = typer.Typer(help="Trainer images: the one for this machine, and building it.")
container_app = typer.Typer(help="The containers Forge started (and only those).")
app.add_typer(docker_app, name="docker")
app.add_typer(container_app, name="container")


@docker_app.command("detect")
def docker_detect() -> None:
    """The GPU architecture here and the trainer image it maps to."""
    machine = detect_hardware()
    tag = image_tag(machine.architecture)
    console.print(f"architecture: {machine.architecture}\nimage:        {tag}")
    console.print(
        f"build it:     forge docker build   ({' '.join(build_command(machine.architecture))})"
    )


@docker_app.command("build")
def docker_build(
    no_cache: bool = typer.Option(False, "--no-cache", help="Rebuild every layer."),
    architecture: str = typer.Option(None, help="Default: the detected one."),
) -> None:
    """Build forge:<arch> from docker/Dockerfile with that architecture's build arguments."""
    chosen = architecture or detect_hardware().architecture
    try:
        command = build_command(chosen, no_cache)
    except ValueError as exc:
        _fail(exc)
    console.print(" ".join(command))
    if subprocess.run(command).returncode:
        _fail(RuntimeError(f"docker build of {image_tag(chosen)} failed (its output is above)."))
    console.print(f"built {image_tag(chosen)}")


@container_app.command("list")
def container_list() -> None:
    """Forge's containers, running or stopped."""
    try:
        found = forge_containers()
    except ContainerError as exc:
        _fail(exc)
    table = Table("id", "name", "image", "status", "dagster run")
    for container in found:
        table.add_row(
            container.id, container.name, container.image, container.status, container.run_id
        )
    console.print(table if found else "No Forge containers.")


@container_app.command("logs")
def container_logs_command(
    container: str = typer.Argument(..., help="Id or name, from `forge container list`."),
    tail: int = typer.Option(200, help="Lines from the end."),
) -> None:
    """The last lines a Forge container printed."""
    try:
        console.print(container_logs(container, tail), markup=False, highlight=False)
    except ContainerError as exc:
        _fail(exc)
    except Exception as exc:  # docker.errors.NotFound and friends
        _fail(RuntimeError(f"No container {container!r}: {exc}"))


@container_app.command("cleanup")
def container_cleanup(
    running: bool = typer.Option(False, "--running", help="Also stop and remove running ones."),
) -> None:
    """Remove Forge's stopped containers (and running ones with --running)."""
    try:
        removed = remove_containers(running_too=running)
    except ContainerError as exc:
        _fail(exc)
    console.print(
        f"removed {len(removed)} container(s){': ' if removed else ''}{', '.join(removed)}"
    )


@app.command()
def status() -> None:
    """The latest forge_full run, each asset's latest materialization, the deployed version."""
    import dagster as dg

    from forge_pipeline.definitions import defs

    settings = _settings()
    _dagster_home(settings)
    table = Table("asset", "last materialized", "run")
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="forge_full"), limit=1)
        if runs:
            console.print(f"last forge_full run: {runs[0].run_id} {runs[0].status.value}")
        else:
            console.print("no forge_full run recorded yet")
        for key in defs.resolve_asset_graph().toposorted_asset_keys:
            event = instance.get_latest_materialization_event(key)
            when = (
                time.strftime("%Y-%m-%d %H:%M", time.localtime(event.timestamp))
                if event
                else "never"
            )
            table.add_row(key.to_user_string(), when, event.run_id[:8] if event else "")
    console.print(table)
    version = ModelRegistry(settings.registry_dir).current_version()
    console.print(f"deployed model: {version or 'none'}")


if __name__ == "__main__":
    app()
