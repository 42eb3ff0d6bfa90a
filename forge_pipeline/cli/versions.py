"""`forge versions` and `forge forget`: what each version is made of; taking a note back."""

from typing import Annotated

import typer

from forge_pipeline.cli.app import USER_ERRORS, app, console, current_settings, fail
from forge_pipeline.lib.core.config import Settings
from forge_pipeline.lib.core.jsonl import read_jsonl
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.dataset import forgetting
from forge_pipeline.serving.client import ServerClient, ServerError
from forge_pipeline.serving.provenance import remove_forgotten, summary
from forge_pipeline.serving.registry import ModelRegistry, Removal

# model_evaluation's figures shown per version, as `forge versions` names them.
FIGURES = {"voice_delta_tuned": "voice Δ", "stop_rate_tuned": "stops", "verbatim_share": "recited"}


@app.command(rich_help_panel="Model")
def versions() -> None:
    """Every registered model version: when, what it was trained on, its figures."""
    settings = current_settings()
    registry = ModelRegistry(settings.registry_dir)
    roles = {registry.previous_version(): " (previous)", registry.current_version(): " (current)"}
    found = registry.versions()
    if not found:
        console.print(f"No model version in {registry.root} yet.")
    try:
        for version in found:
            manifest = registry.manifest(version)
            made_of = summary(manifest)
            judged = (manifest.get("provenance") or {}).get("evaluation", {})
            if "train_examples" in made_of:
                examples = made_of["train_examples"] + made_of["val_examples"]
                trained_on = f"{made_of['notes']} notes, {examples} examples, {made_of['dates']}"
            else:
                trained_on = str(made_of["notes"])
            losses = (manifest.get("eval_loss", "?"), manifest.get("base_eval_loss", "?"))
            figures = [
                "eval loss {} (base {})".format(*losses),
                *(f"{label} {judged[key]}" for key, label in FIGURES.items() if key in judged),
            ]
            console.print(
                f"[bold]{version}[/bold]{roles.get(version, '')}  {manifest.get('created', '')}",
                highlight=False,
            )
            console.print(f"  {trained_on}\n  {', '.join(figures)}", markup=False, highlight=False)
    except USER_ERRORS as exc:
        fail(exc)


@app.command(rich_help_panel="Model")
def forget(
    item: Annotated[
        str | None, typer.Argument(help="A note's path in the vault, a folder, a #tag or an id.")
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Take ITEM back off the list.")] = False,
    listing: Annotated[bool, typer.Option("--list", help="List what is forgotten.")] = False,
) -> None:
    """Leave a note, tag or example out of training, and delete every version trained on it."""
    settings = current_settings()
    path = settings.curation.forget_file
    try:
        if listing or item is None:
            items = forgetting.load_forgotten(path).items()
            console.print("\n".join(items) if items else f"Nothing is forgotten ({path}).")
            return
        kind = forgetting.kind_of(item)
        entry = forgetting.normalized(item, settings.vault)
        if undo:
            taken_back = forgetting.unforget(path, entry, kind)
            console.print(
                f"{entry} is no longer forgotten; the next run trains on it again."
                if taken_back
                else f"{entry} was not forgotten ({path})."
            )
            return
        if forgetting.forget(path, entry, kind):
            console.print(f"Forgot {entry}: {_in_training_set(settings, entry, kind)}.")
        else:
            console.print(f"{entry} was already forgotten.")
        registry = ModelRegistry(settings.registry_dir)
        before = registry.current_version()
        removal = remove_forgotten(registry, settings)
    except (*USER_ERRORS, forgetting.ForgetError) as exc:
        fail(exc)
    _report(settings, removal, moved=removal.current != before)


def _in_training_set(settings: Settings, entry: str, kind: str) -> str:
    """How many examples of the current training set the entry takes out."""
    layout = Layout(settings)
    if not layout.train.exists():
        return "no training set yet; no run will train on it"
    one = forgetting.Forgotten(**{kind: {entry}})
    examples = read_jsonl(layout.train) + read_jsonl(layout.val)
    count = sum(1 for e in examples if one.matches(e))
    if not count:
        return "no example of the current training set comes from it; recorded all the same"
    return f"{count} example(s) of the current training set leave it on the next run"


def _report(settings: Settings, removal: Removal, moved: bool) -> None:
    if removal.deleted:
        console.print(f"Deleted model versions trained on it: {', '.join(removal.deleted)}.")
    if removal.still_serving:
        console.print(
            f"{removal.still_serving} holds it and still serves, as no version without it "
            "exists yet; `forge run` (or the nightly run) trains one, deploys it and deletes "
            f"{removal.still_serving}."
        )
        return
    if not removal.deleted:
        console.print("No model version was trained on it.")
        return
    console.print(f"current model: {removal.current or 'none'}")
    server = ServerClient.for_settings(settings, "")
    if moved and removal.current and server.is_up():
        try:
            server.reload(removal.current)
        except ServerError as exc:
            fail(
                ServerError(
                    f"The registry now serves {removal.current}, but the server at "
                    f"{server.base_url} did not reload ({exc}); restart `forge serve`."
                )
            )
        console.print(f"server at {server.base_url} now serves {removal.current}")
