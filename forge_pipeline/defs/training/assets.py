"""lora_adapter: LoRA fine-tune run by the Dagster-free trainer through Pipes."""

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import dagster as dg

from forge_pipeline.defs.resources import ForgeResource, GeminiResource, HardwareResource
from forge_pipeline.defs.training.launcher import TrainerFailed, TrainerLauncher
from forge_pipeline.defs.training.pools import TRAINING_POOL
from forge_pipeline.lib.copilot.tasks import GeminiDiagnosis
from forge_pipeline.lib.core.artifacts import atomic_dir, sha256_dir
from forge_pipeline.lib.core.base_model import resolve_base_model
from forge_pipeline.lib.core.config import Settings
from forge_pipeline.lib.core.jsonl import count_lines
from forge_pipeline.lib.core.layout import Layout
from forge_pipeline.lib.core.run_lock import one_at_a_time
from forge_pipeline.lib.core.tables import markdown_table
from forge_pipeline.lib.training.hardware import Hardware
from forge_pipeline.lib.training.healing import (
    MAX_RETRIES,
    Attempt,
    attempts_table,
    classify,
    failure_message,
    fix_for,
)
from forge_pipeline.lib.training.loss_plot import loss_curve_png, markdown_image
from forge_pipeline.lib.training.plan import RunLength, TrainingPlan, make_plan, run_length
from forge_pipeline.lib.training.warm_start import (
    TRAINED_ON,
    read_trained_on,
    trained_on,
    warm_rejection,
    warm_set,
    write_warm_train,
)
from forge_pipeline.serving.registry import ModelRegistry, RegistryError
from forge_pipeline.training.train_config import TrainConfig, train_config


@dg.asset(
    group_name="training",
    kinds={"pytorch", "peft"},
    deps=["curated_dataset"],
    pool=TRAINING_POOL,  # one training at a time per instance (dagster.yaml sets the limit)
    output_required=False,
    check_specs=[
        dg.AssetCheckSpec(
            "tuned_beats_base",
            asset="lora_adapter",
            blocking=True,
            description="The tuned model's eval loss is below the base model's.",
        ),
    ],
)
def lora_adapter(
    context: dg.AssetExecutionContext,
    forge: ForgeResource,
    hardware: HardwareResource,
    trainer: TrainerLauncher,
    gemini: GeminiResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """A LoRA adapter on the curated set: failures healed and retried, skipped if unchanged."""
    settings, layout = forge.settings(), forge.layout()
    machine = hardware.detect()
    Layout.require(layout.train, "curated_dataset")
    Layout.require(layout.val, "curated_dataset")
    plan = make_plan(machine, settings.training, layout.tokens_p95())
    inputs = training_inputs(layout.dataset_version(), settings, plan)
    last, last_run, last_event = _last_adapter(context)
    if (
        last.get("inputs_fingerprint") == inputs
        and (layout.adapter / "adapter_config.json").exists()
        and not _warm_and_not_served(settings, last)
    ):
        check = _beats_base(last["base_eval_loss"], last["tuned_eval_loss"], last_run)
        # An adapter its own check stops would be stopped again: nothing to export.
        kept = _never_exported(context, settings, last, last_event) if check.passed else None
        if kept is not None:
            context.log.info(
                f"Curated set and training settings unchanged since run {last_run}, whose "
                "adapter no export has read yet: it is materialized again, not retrained, "
                "so export and deploy follow."
            )
            start = f"kept: run {last_run}'s adapter, not retrained (it was never exported)"
            yield dg.MaterializeResult(metadata={**kept, "start": start}, check_results=[check])
            return
        # No materialization: Dagster skips (not fails) every asset after this one in the run.
        # The check still reports, on the adapter that stays current.
        context.log.info(
            f"Curated set and training settings unchanged since run {last_run}; "
            "skipping training, export and deploy."
        )
        yield check
        return
    client, _ = gemini.client(settings.gemini, sends_notes=False)
    diagnosis = GeminiDiagnosis(client, machine.as_metadata()) if client else None
    training = f"run {context.run_id}'s training"
    lock = settings.home / "locks" / "training.lock"
    with one_at_a_time(lock, training, context.log.info), atomic_dir(layout.adapter) as out:
        now = trained_on(layout.train, layout.val)
        warm = _train_warm(context, forge, machine, trainer, plan, out, (last, last_run), now)
        if isinstance(warm, str):
            context.log.info(f"Training from scratch: {warm}.")
            _empty(out)
            length, config, attempts = _train_healing_failures(
                context, forge, machine, trainer, diagnosis, plan, out, inputs
            )
            start, chain = f"from scratch: {warm}", 0
        else:
            (length, config, start), attempts = warm, []
            chain = int(last.get("warm_chain", 0)) + 1
        (out / TRAINED_ON).write_text(json.dumps(now))
        metrics = json.loads((out / "metrics.json").read_text())
        curve = metrics.pop("loss_curve")
        evals = dict(metrics.pop("eval_curve"))
        png = loss_curve_png(curve, evals)
        (out / "loss_curve.png").write_bytes(png)
    yield dg.MaterializeResult(
        metadata={
            **metrics,
            "inputs_fingerprint": inputs,
            "settings_fingerprint": training_inputs("", settings, plan),
            "start": start,
            "warm_chain": chain,
            "run_length": length.outcome(metrics.get("s_per_step"), metrics.get("budget_steps")),
            "plan": dg.MetadataValue.md(plan_table(plan, machine.architecture)),
            "attempts": len(attempts) + 1,
            "healed_failures": dg.MetadataValue.md(healed_table(attempts)),
            "path": dg.MetadataValue.path(str(layout.adapter)),
            "base_model": config.base_model,
            "architecture": machine.architecture,
            "trained_in": trainer.where(settings, machine),
            "loss_curve_image": dg.MetadataValue.md(markdown_image(png, "train and val loss")),
            "loss_curve": dg.MetadataValue.md(loss_table(curve, evals)),
            "sha256": sha256_dir(layout.adapter),
        },
        check_results=[_beats_base(metrics["base_eval_loss"], metrics["tuned_eval_loss"])],
    )


def _train_warm(
    context: dg.AssetExecutionContext,
    forge: ForgeResource,
    machine: Hardware,
    trainer: TrainerLauncher,
    plan: TrainingPlan,
    out: Path,
    current: tuple[dict, str | None],
    now: dict[str, dict[str, str]],
) -> tuple[RunLength, TrainConfig, str] | str:
    """Continue the current adapter on the new examples and a replay of the old ones when the
    curated set only grew since it was trained; else, or when that does worse, why not."""
    settings, layout = forge.settings(), forge.layout()
    last, last_run = current  # the current adapter's metadata and the run that made it
    training = settings.training
    chain = int(last.get("warm_chain", 0))
    if not training.warm_start_limit:
        return "warm starts are off (training.warm_start_limit 0)"
    if not last or not (layout.adapter / "adapter_config.json").exists():
        return "no adapter trained yet"
    if chain >= training.warm_start_limit:
        return f"{chain} warm starts in a row (training.warm_start_limit)"
    if last.get("settings_fingerprint") != training_inputs("", settings, plan):
        return "the training settings, the base model or the plan changed"
    if not last["tuned_eval_loss"] < last["base_eval_loss"]:
        return "the current adapter did not beat the base model"
    if _not_served(settings, last):
        return (
            "the current adapter is not the one behind the served model (a blocking check "
            "after training failed, or the model was rolled back)"
        )
    previous = read_trained_on(layout.adapter)
    if previous is None:
        return "the current adapter has no readable record of what it was trained on"
    chosen = warm_set(previous, now, training.warm_replay, training.seed)
    if isinstance(chosen, str):
        return chosen
    work = layout.checkpoints / "warm"
    knobs = {**plan.knobs(), "learning_rate": training.learning_rate}
    # Sized by epochs even where forge.yaml fixes max_steps: those steps were for the whole set.
    by_epochs = training.model_copy(update={"max_steps": "auto"})
    length = run_length(by_epochs, chosen.size, knobs["batch_size"] * knobs["grad_accum"])
    config = replace(
        train_config(settings, resolve_base_model(settings), layout, out, length, knobs),
        train_file=str(write_warm_train(layout.train, chosen, work / "train.jsonl")),
        init_adapter=str(layout.adapter),
    )
    context.log.info(f"Warm start on {chosen.describe()}: {length.reason}")
    try:
        trainer.run(context, settings, machine, asdict(config))
    except TrainerFailed as exc:
        return f"the warm start failed ({exc})"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    metrics = json.loads((out / "metrics.json").read_text())
    rejected = warm_rejection(metrics)
    if rejected:
        return rejected
    said = (
        f"warm: {chosen.describe()}, on run {last_run}'s adapter; "
        f"val loss {metrics['start_eval_loss']} → {metrics['tuned_eval_loss']}"
    )
    return length, config, said


def _warm_and_not_served(settings: Settings, last: dict) -> bool:
    """Whether the current adapter was trained warm and the served model is not made from it."""
    # A warm result is kept only if every blocking check after it passes too. When one failed,
    # the served model is still an older one; training from scratch is what follows. (A scratch
    # adapter is not retried so: the same data and seed would fail the same way.)
    return bool(last.get("warm_start")) and _not_served(settings, last)


def _not_served(settings: Settings, last: dict) -> bool:
    """Whether the served model is not made from the current adapter: nothing serves, or one
    made from another adapter. Only what serves, having passed every check, is continued."""
    registry = ModelRegistry(settings.registry_dir)
    version = registry.current_version()
    if not version:
        return True
    try:
        served = registry.manifest(version).get("adapter_sha256")
    except RegistryError:
        return False  # no readable record of what is served: nothing to compare with
    return served is not None and served != last.get("sha256")


def _empty(folder: Path) -> None:
    """Remove what a rejected attempt left in the adapter's output folder."""
    for item in folder.iterdir():
        shutil.rmtree(item) if item.is_dir() else item.unlink()


def _train_healing_failures(
    context: dg.AssetExecutionContext,
    forge: ForgeResource,
    machine: Hardware,
    trainer: TrainerLauncher,
    diagnosis: GeminiDiagnosis | None,
    plan: TrainingPlan,
    out: Path,
    inputs: str,
) -> tuple[RunLength, TrainConfig, list[Attempt]]:
    """Train the adapter into out; after a failure, heal the knobs and try again (bounded)."""
    settings, layout = forge.settings(), forge.layout()
    device = "cuda" if machine.gpu_count else "cpu"
    checkpoints = layout.checkpoints / inputs
    _drop_stale_checkpoints(layout.checkpoints, keep=checkpoints)
    failure_file = layout.checkpoints / "failure.txt"
    failure_file.parent.mkdir(parents=True, exist_ok=True)
    knobs = {**plan.knobs(), "learning_rate": settings.training.learning_rate}
    attempts: list[Attempt] = []
    base_model = resolve_base_model(settings)
    train_examples = count_lines(layout.train)
    while True:
        length = run_length(
            settings.training, train_examples, knobs["batch_size"] * knobs["grad_accum"]
        )
        config = train_config(
            settings, base_model, layout, out, length, knobs, checkpoints, failure_file
        )
        context.log.info(f"Training on {machine.architecture}: {length.reason}")
        context.log.info(json.dumps(asdict(config)))
        try:
            trainer.run(context, settings, machine, asdict(config))
            break
        except TrainerFailed as exc:
            change = _heal(
                context, exc, failure_file, {**knobs, "device": device}, attempts, diagnosis
            )
            knobs.update(change)
            shutil.rmtree(checkpoints, ignore_errors=True)  # a changed plan starts afresh
    return length, config, attempts


def plan_table(plan: TrainingPlan, architecture: str) -> str:
    """The plan's knobs and where each came from, and the model this hardware suits."""
    rows = markdown_table(["knob", "value", "from"], plan.rows())
    return f"{rows}\n\nHardware: {architecture}; suited model: {plan.recommended_model}"


def healed_table(attempts: list[Attempt]) -> str:
    """Each failed attempt, its class and the change it was retried with."""
    if not attempts:
        return "First attempt succeeded."
    return markdown_table(["attempt", "failure", "change", "note"], attempts_table(attempts))


def loss_table(curve: list[float], evals: dict[int, float]) -> str:
    """Train loss per step beside the val loss where one was measured."""
    rows = [(step, loss, evals.get(step, "")) for step, loss in enumerate(curve, start=1)]
    return markdown_table(["step", "train loss", "val loss"], rows, limit=200)


def _beats_base(
    base_loss: float, tuned_loss: float, unchanged_since: str | None = None
) -> dg.AssetCheckResult:
    improved = tuned_loss < base_loss
    return dg.AssetCheckResult(
        check_name="tuned_beats_base",
        passed=improved,
        metadata={
            "base_eval_loss": base_loss,
            "tuned_eval_loss": tuned_loss,
            "delta": round(tuned_loss - base_loss, 4),
            **({"unchanged_since_run": unchanged_since} if unchanged_since else {}),
        },
        description=None
        if improved
        else "Training did not lower the eval loss; "
        "the model is not deployed. Try more steps or a lower learning rate.",
    )


def training_inputs(dataset_version: str, settings: Settings, plan: TrainingPlan) -> str:
    """A fingerprint of everything training depends on: data, settings, base model, plan."""
    parts = [dataset_version, settings.training.model_dump(), settings.base_model, plan.knobs()]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _last_adapter(
    context: dg.AssetExecutionContext,
) -> tuple[dict, str | None, dg.EventLogEntry | None]:
    """The plain metadata, run id and event of the last adapter materialized, if any."""
    event = context.instance.get_latest_materialization_event(context.asset_key)
    if event is None or event.asset_materialization is None:
        return {}, None, None
    metadata = event.asset_materialization.metadata
    return {k: getattr(v, "value", v) for k, v in metadata.items()}, event.run_id, event


def _never_exported(
    context: dg.AssetExecutionContext,
    settings: Settings,
    last: dict,
    event: dg.EventLogEntry | None,
) -> dict | None:
    """The current adapter's recorded metadata (event) when it does not serve and no merge has
    read it since (made by `forge train` alone, or an export that broke)."""
    if event is None or event.asset_materialization is None or not _not_served(settings, last):
        return None
    merged = context.instance.get_latest_materialization_event(dg.AssetKey("merged_model"))
    if merged is not None and merged.timestamp >= event.timestamp:
        return None
    return dict(event.asset_materialization.metadata)


def _heal(
    context: dg.AssetExecutionContext,
    error: TrainerFailed,
    failure_file: Path,
    knobs: dict,
    attempts: list[Attempt],
    diagnosis: GeminiDiagnosis | None,
) -> dict:
    """Classify a failed attempt and return the change to retry with, or stop with a Failure."""
    tail = failure_file.read_text() if failure_file.exists() else str(error)
    failure_file.unlink(missing_ok=True)
    failure = classify(error.exit_code, tail)
    if diagnosis:
        diagnosis.outcome = ""
    fix = fix_for(failure, knobs, tail, diagnosis) if len(attempts) < MAX_RETRIES else None
    stopped = f"stopped; {diagnosis.outcome}" if diagnosis and diagnosis.outcome else "stopped"
    attempts.append(
        Attempt(len(attempts) + 1, failure, fix[0] if fix else {}, fix[1] if fix else stopped)
    )
    table = markdown_table(["attempt", "failure", "change", "note"], attempts_table(attempts))
    if fix is None:
        raise dg.Failure(
            description=failure_message(failure, len(attempts), tail[-1500:]),
            metadata={"attempts": dg.MetadataValue.md(table), "failure": failure},
        )
    context.log.warning(f"Training attempt {len(attempts)} failed ({failure}); {fix[1]}; retrying.")
    return fix[0]


def _drop_stale_checkpoints(root: Path, keep: Path) -> None:
    """Checkpoints of other data or settings can never be resumed: remove them."""
    if root.is_dir():
        for folder in root.iterdir():
            if folder != keep:
                shutil.rmtree(folder, ignore_errors=True)
