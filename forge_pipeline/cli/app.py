"""The `forge` Typer app, its console and the error helper every command shares."""

import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from forge_pipeline.lib.core.base_model import ModelError
from forge_pipeline.lib.core.config import PROJECT_ROOT, ConfigError, Settings, load_settings
from forge_pipeline.lib.export.gguf_check import GGUFError
from forge_pipeline.serving.client import ServerError
from forge_pipeline.serving.registry import RegistryError

app = typer.Typer(
    help="Forge: your notes vault, fine-tuned into a local model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
USER_ERRORS = (ConfigError, ModelError, GGUFError, RegistryError, ServerError, FileNotFoundError)


def current_settings() -> Settings:
    """forge.yaml and the environment, or one clear error and exit 1."""
    try:
        return load_settings()
    except ConfigError as exc:
        fail(exc)


def fail(exc: Exception) -> NoReturn:
    """Say what went wrong in one line and exit 1."""
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(1)


def dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME (default: FORGE_HOME/dagster) with Forge's dagster.yaml in it."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.home / "dagster")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def tool(name: str) -> str:
    """A console script installed beside this Python (the project's virtualenv)."""
    return str(Path(sys.executable).parent / name)
