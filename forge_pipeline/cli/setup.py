"""`forge init`, `prepare`, `detect`, `plan`: settings, the base model, the machine."""

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forge_pipeline.cli.app import (
    USER_ERRORS,
    app,
    console,
    current_settings,
    dagster_home,
    fail,
)
from forge_pipeline.lib.copilot.gemini import KEY_ENV, GeminiClient, GeminiError, GeminiKeyError
from forge_pipeline.lib.copilot.tasks import check_key, plan_for_goal
from forge_pipeline.lib.core.artifacts import atomic_file
from forge_pipeline.lib.core.base_model import resolve_base_model
from forge_pipeline.lib.core.config import (
    PROJECT_ROOT,
    ConfigError,
    Settings,
    config_path,
    load_settings,
)
from forge_pipeline.lib.core.jsonl import count_lines
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.core.yaml_edit import set_value
from forge_pipeline.lib.evaluation.embedding import EmbeddingError, prepare_embedding_model
from forge_pipeline.lib.export.gguf_export import converter_dir
from forge_pipeline.lib.training.hardware import detect_hardware
from forge_pipeline.lib.training.plan import make_plan, run_length


@app.command(rich_help_panel="Setup")
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
        fail(exc)
    console.print(f"settings: {path}")
    if not settings.vault.is_dir():
        console.print(f"[yellow]vault {settings.vault} does not exist yet: use --vault.[/yellow]")
    else:
        console.print(f"vault:    {settings.vault} (read-only)")
    console.print(f"Dagster:  {dagster_home(settings)}")
    key = os.environ.get(KEY_ENV, "")
    if not key:
        console.print(f"Gemini:   off ({KEY_ENV} is not set); every step runs offline.")
        return
    try:
        with console.status("Checking the Gemini key…"):
            check_key(GeminiClient(key, settings.gemini))
    except GeminiKeyError as exc:
        fail(exc)
    except GeminiError as exc:
        console.print(f"[yellow]Gemini could not be checked now: {exc}[/yellow]")
        return
    shared = "redacted samples" if settings.gemini.share_notes else "never (gemini.share_notes)"
    console.print(f"Gemini:   the key works ({settings.gemini.model}); notes shared: {shared}")


def _template() -> str:
    return (PROJECT_ROOT / "forge.yaml").read_text(encoding="utf-8")


@app.command(rich_help_panel="Setup")
def prepare() -> None:
    """Download and prepare the base model, llama.cpp's converter and the embedding model."""
    settings = current_settings()
    try:
        with console.status("Preparing the base model…"):
            model = resolve_base_model(settings)
        with console.status("Fetching llama.cpp's converter…"):
            tools = converter_dir(settings.tools_dir)
        with console.status("Fetching the sentence-embedding model…"):
            embedding = prepare_embedding_model(settings.models_dir)
    except (*USER_ERRORS, EmbeddingError) as exc:
        fail(exc)
    console.print(f"base model: {model}\nconverter:  {tools}\nembedding:  {embedding}")


@app.command(rich_help_panel="Setup")
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


@app.command(rich_help_panel="Setup")
def plan(goal: str = typer.Argument(None, help="What the model is for, in your words.")) -> None:
    """The training plan for this machine and the curated set, and the goal as system prompt."""
    settings = current_settings()
    machine = detect_hardware()
    layout = Layout(settings)
    tokens_p95 = layout.tokens_p95()
    chosen = make_plan(machine, settings.training, tokens_p95)
    examples = count_lines(layout.train) if layout.train.exists() else 0
    length = run_length(settings.training, examples, chosen.batch_size * chosen.grad_accum)
    console.print(
        f"[bold]{machine.gpu_name or 'CPU'}[/bold] · {machine.architecture} · "
        f"{machine.vram_total_gb} GB VRAM · BF16 {'yes' if machine.supports_bf16 else 'no'}"
    )
    console.print(f"suited model: {chosen.recommended_model}")
    table = Table("knob", "value", "from")
    for row in chosen.rows():
        table.add_row(*row)
    console.print(table)
    console.print(f"run length: {length.reason}", highlight=False)
    if tokens_p95 is None:
        console.print("max_length assumes 256 tokens: materialize curated_dataset to size it.")
    if not examples:
        console.print("the run's length needs the curated set: materialize curated_dataset.")
    if goal:
        _plan_goal(settings, goal, length.steps if examples else UNKNOWN_LENGTH_STEPS)


UNKNOWN_LENGTH_STEPS = 40  # what Gemini's max_steps advice is bounded by before any data exists


def _plan_goal(settings: Settings, goal: str, steps: int) -> None:
    """The goal as a system prompt: Gemini's (only the goal is sent), else the goal as written."""
    prompt, key = goal, os.environ.get(KEY_ENV, "")
    if key:
        try:
            with console.status("Asking Gemini to plan for the goal…"):
                answer, accepted, refused = plan_for_goal(
                    GeminiClient(key, settings.gemini), goal, steps
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
