"""`forge`: thin conveniences around the pipeline (prepare, ask, status)."""

import os

import typer
from rich.console import Console

from forge_pipeline.lib.base_model import ModelError, resolve_base_model
from forge_pipeline.lib.config import ConfigError, load_settings
from forge_pipeline.lib.gguf_export import GGUFError, converter_dir, validate_gguf
from forge_pipeline.lib.registry import ModelRegistry, RegistryError

app = typer.Typer(
    help="Forge: your notes vault, fine-tuned into a local model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
_USER_ERRORS = (ConfigError, ModelError, GGUFError, RegistryError, FileNotFoundError)


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(1)


@app.command()
def prepare() -> None:
    """Download and prepare the base model and llama.cpp's converter (done once)."""
    try:
        settings = load_settings()
        with console.status("Preparing the base model…"):
            model = resolve_base_model(settings)
        with console.status("Fetching llama.cpp's converter…"):
            tools = converter_dir(settings.tools_dir)
    except _USER_ERRORS as exc:
        _fail(exc)
    console.print(f"base model: {model}\nconverter:  {tools}")


@app.command()
def ask(prompt: str = typer.Argument(None, help="Defaults to smoke_prompt in forge.yaml.")) -> None:
    """Answer one prompt with the deployed model."""
    try:
        settings = load_settings()
        registry = ModelRegistry(settings.registry_dir)
        model = registry.current_model()
        with console.status("Loading the deployed model…"):
            answer = validate_gguf(
                model,
                prompt or settings.smoke_prompt,
                settings.system_prompt,
                settings.training.threads,
            )
    except _USER_ERRORS as exc:
        _fail(exc)
    version = registry.current_version()
    console.print(f"[bold]You[/bold] ({version}): {prompt or settings.smoke_prompt}")
    console.print(f"[bold]Forge[/bold]: {answer.reply}")


@app.command()
def status() -> None:
    """The latest forge_full run in the Dagster instance and the deployed version."""
    import dagster as dg

    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(exc)
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
