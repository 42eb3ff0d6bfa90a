"""`forge run`, `train`, `study`, `ui`, `status`: the Dagster chain, run and inspected."""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.progress import Progress
from rich.table import Table

from forge_pipeline.cli.app import app, console, current_settings, dagster_home, fail, tool
from forge_pipeline.lib.core.config import PROJECT_ROOT, env_name
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.serving.provenance import summary
from forge_pipeline.serving.registry import ModelRegistry

# `dagster job execute` of the whole chain, as CI and `make run` call it.
EXECUTE_FORGE_FULL = ["job", "execute", "-m", "forge_pipeline.definitions", "-j", "forge_full"]
STEP_EVENT = re.compile(r" - ([\w.]+) - (STEP_START|STEP_SUCCESS|STEP_FAILURE|STEP_SKIPPED) - ")
DONE = {"STEP_SUCCESS": "done", "STEP_SKIPPED": "skipped (unchanged)", "STEP_FAILURE": "failed"}
TRAIN_TARGET = "lora_adapter"
UPSTREAM = ["vault_notes", "reflection_examples", "dataset_examples", "curated_dataset"]
TRAIN_STEPS = [*UPSTREAM, TRAIN_TARGET]
STUDY_STEPS = [*UPSTREAM, "dataset_study"]


@app.command(rich_help_panel="Pipeline")
def run() -> None:
    """Materialize the whole chain (job forge_full) with progress, as `dagster job execute` does."""
    from forge_pipeline.definitions import defs

    steps = [k.to_user_string() for k in defs.resolve_asset_graph().toposorted_asset_keys]
    materialize_with_progress("forge_full", EXECUTE_FORGE_FULL, steps)


@app.command(rich_help_panel="Pipeline")
def train(
    resume: bool = typer.Option(
        False, "--resume", help="Resuming is automatic: a killed run goes on from its checkpoint."
    ),
) -> None:
    """The chain up to lora_adapter: notes, examples, the curated set, then training."""
    if resume:
        console.print("A killed training resumes from its newest checkpoint by itself.")
    materialize_with_progress("training", select(f"*{TRAIN_TARGET}"), TRAIN_STEPS)


@app.command(rich_help_panel="Data")
def study(
    path: Annotated[Path, typer.Argument(help="A dataset (CSV, JSONL, Parquet) or a vault.")],
) -> None:
    """Study a dataset file or a vault: the chain up to dataset_study, then its report."""
    chosen = path.expanduser().resolve()
    if not chosen.exists():
        fail(FileNotFoundError(f"No file or folder at {chosen}."))
    if chosen.is_dir():
        os.environ[env_name("vault")] = str(chosen)
    else:  # the file alone: an empty vault beside it
        empty = current_settings().home / "study" / "no-vault"
        empty.mkdir(parents=True, exist_ok=True)
        os.environ[env_name("vault")] = str(empty)
        os.environ[env_name("datasets.files")] = f"[{json.dumps(str(chosen))}]"
    # A study reports on any size of set; only training needs curation.min_examples.
    os.environ[env_name("curation.min_examples")] = "1"
    materialize_with_progress("the study", select("*dataset_study"), STUDY_STEPS)
    console.print(Markdown(Layout(current_settings()).study.read_text(encoding="utf-8")))


def select(selection: str) -> list[str]:
    """`dagster asset materialize` of a selection of Forge's assets."""
    return ["asset", "materialize", "-m", "forge_pipeline.definitions", "--select", selection]


def materialize_with_progress(name: str, arguments: list[str], steps: list[str]) -> None:
    """Run a dagster command with a progress bar, a table of outcomes and the log in FORGE_HOME."""
    settings = current_settings()
    dagster_home(settings)
    log = settings.home / "logs" / f"forge-run-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    outcome: dict[str, str] = {}
    with Progress(console=console, transient=True) as progress, log.open("w") as record:
        bar = progress.add_task(f"starting {name}", total=len(steps))
        process = subprocess.Popen(
            [tool("dagster"), *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
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
        fail(RuntimeError(f"{name} failed; the run's log is {log} (or open `forge ui`)."))
    console.print(f"{name} succeeded; log: {log}")


@app.command(rich_help_panel="Pipeline")
def ui(port: int = typer.Option(3000, help="The web UI's port on 127.0.0.1.")) -> None:
    """The Dagster web UI and daemon (`dagster dev`) on 127.0.0.1 with this project's workspace."""
    settings = current_settings()
    home = dagster_home(settings)
    nux = home / ".nux" / "nux.yaml"  # without it the UI opens with a "join the community" pop-up
    nux.parent.mkdir(exist_ok=True)
    nux.write_text("seen: 1\n")
    _ensure_pools()
    console.print(f"Dagster UI: http://127.0.0.1:{port} (instance {home}); Ctrl-C stops it")
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    dagster = tool("dagster")
    # Started from a script without job control, a process inherits ignored SIGINT/SIGTERM,
    # and dagster dev then cannot be stopped: give it the default handlers back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.execv(dagster, [dagster, "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(port)])


@app.command(rich_help_panel="Pipeline")
def pools() -> None:
    """Give the run queue's training pool its limit on this instance (run before the daemon)."""
    dagster_home(current_settings())
    written = _ensure_pools()
    console.print("training pool: " + ("limit set from the default" if written else "has a limit"))


def _ensure_pools() -> bool:
    import dagster as dg

    from forge_pipeline.defs.training.pools import ensure_pool_limits

    with dg.DagsterInstance.get() as instance:
        return ensure_pool_limits(instance)


@app.command(rich_help_panel="Pipeline")
def status() -> None:
    """The latest forge_full run, each asset's latest materialization, the deployed version."""
    import dagster as dg

    from forge_pipeline.definitions import defs

    settings = current_settings()
    dagster_home(settings)
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
    registry = ModelRegistry(settings.registry_dir)
    version = registry.current_version()
    console.print(f"deployed model: {version or 'none'}")
    if version:
        made_of = summary(registry.manifest(version))
        parts = [f"{key.replace('_', ' ')} {value}" for key, value in made_of.items()]
        console.print("made of: " + ", ".join(parts))
